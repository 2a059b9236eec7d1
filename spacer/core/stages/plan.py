"""Stage ``plan``, whole fleet: the layout and one slice per app, as files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from spacer.core.errors import BadInput
from spacer.core.formats.facts import read_facts
from spacer.core.formats.layout import read_layout
from spacer.core.formats.symbols import read_symbols
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.outputs.paths import OutputLayout
from spacer.core.planner.plan import PlanOptions, plan_fleet, with_tables


def run_plan(extract_files: list[Path], symbol_files: list[Path], options: PlanOptions,
             layout: OutputLayout, replan: bool = False,
             recorded: dict[str, Any] | None = None) -> None:
    """The fleet's layout, and one slice per app written only when it changed, so only
    the apps whose slice moved are relinked. Tables are sized from the symbols stage.
    The previous layout, if any, is kept as far as it can be, unless ``replan``.
    ``recorded``: the options ``layout.json`` records (the seed too), by default the
    planner's own."""
    extracts = [with_tables(read_facts(p), read_symbols(s))
                for p, s in zip(extract_files, symbol_files, strict=True)]
    previous = None
    if layout.layout.is_file() and not replan:
        try:
            previous = read_layout(layout.layout)
        except OSError:
            raise BadInput("the previous layout cannot be read", layout.layout,
                           "run spacer align --replan") from None
    plan = plan_fleet(extracts, options, previous)
    if recorded is not None:
        plan = replace(plan, options=dict(recorded))
    for app, piece in plan.slices.items():
        write_json_atomic(layout.plan_slice(app), piece.to_json(), only_if_changed=True)
    write_json_atomic(layout.layout, plan.to_json(), only_if_changed=True)
