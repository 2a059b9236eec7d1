"""The settings every entry point (doit, the spacer command) turns into tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEMO_WORKSPACE = Path("demo-workspace")


@dataclass(frozen=True)
class Settings:
    """Everything that decides which tasks exist and what they produce."""

    workspace: Path = DEMO_WORKSPACE
    out: Path | None = None  # default: WORKSPACE/.spacer
    demo: bool = True  # the workspace is the built-in demo fleet (built first)
    count: int = 0  # generated demo apps on top of the built-in ones
    functions: int = 0  # demo function apps (handlers on one runtime) on top of those
    apps: tuple[str, ...] = ()  # -u: the apps to align; empty means all
    plan: dict = field(default_factory=dict)  # planner options (loc, align, group, ...)
    seed: int = 0  # --aslr 2: the seed every image's placement is drawn from
    replan: bool = False  # plan from scratch instead of keeping the previous layout
    relink_only: bool = False  # relink with the existing plan and linker scripts
    verbose: bool = False

    @property
    def out_dir(self) -> Path:
        return (self.out or self.workspace / ".spacer").resolve()

    @property
    def dep_file(self) -> Path:
        return self.out_dir / "doit-state.json"


def settings_of(values: dict[str, Any], verbose: bool = False) -> Settings:
    """Settings from validated option values (:func:`spacer.core.options.validate`)."""
    from spacer.core.options import plan_values

    ws, out = values["workspace"], values["out"]
    return Settings(workspace=Path(ws) if ws else DEMO_WORKSPACE,
                    out=Path(out) if out else None, demo=ws is None, count=values["count"],
                    functions=values["functions"],
                    apps=tuple(a for a in values["apps"] if a), plan=plan_values(values),
                    seed=values["seed"], replan=values["replan"],
                    relink_only=values["relink_only"], verbose=verbose)


def settings_from_vars(variables: dict[str, str] | None) -> Settings:
    """``doit align workspace=DIR aslr=2 seed=N ...``: every variable checked as
    ``spacer align`` checks its options (one line, exit status 2 for a bad one)."""
    from spacer.core.options import from_variables

    return settings_of(from_variables(dict(variables or {})))


def option_values(settings: Settings) -> dict[str, Any]:
    """Every option's value in ``settings``, defaults for the rest: what the stages'
    up-to-date checks and ``layout.json`` take."""
    from spacer.core.options import OPTIONS

    return {**{o.name: o.default for o in OPTIONS}, **settings.plan, "seed": settings.seed,
            "replan": settings.replan, "relink_only": settings.relink_only}
