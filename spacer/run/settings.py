"""The settings every entry point (doit, the spacer command) turns into tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEMO_WORKSPACE = Path("demo-workspace")


@dataclass(frozen=True)
class Settings:
    """Everything that decides which tasks exist and what they produce."""

    workspace: Path = DEMO_WORKSPACE
    out: Path | None = None  # default: WORKSPACE/.spacer
    demo: bool = True  # the workspace is the built-in demo fleet (built first)
    count: int = 0  # generated demo apps on top of the built-in ones
    apps: tuple[str, ...] = ()  # -u: the apps to align; empty means all
    plan: dict = field(default_factory=dict)  # planner options (loc, align, group, ...)
    seed: int = 0  # --aslr 2: the seed every image's placement is drawn from
    replan: bool = False  # plan from scratch instead of keeping the previous layout
    verbose: bool = False

    @property
    def out_dir(self) -> Path:
        return (self.out or self.workspace / ".spacer").resolve()

    @property
    def dep_file(self) -> Path:
        return self.out_dir / "doit-state.json"


# The variables ``doit align`` takes: the same settings as ``spacer align``'s options.
DOIT_VARIABLES = {
    "workspace": "DIR with the unikernels (default: the demo fleet, built first)",
    "out": "output folder (default WORKSPACE/.spacer)",
    "apps": "a,b,...: only these apps (-u)",
    "count": "N: generated demo apps on top of the demo ones",
    "loc": "ADDR: start of the shared code area, hex allowed (-l)",
    "align": "0: pack slots at their natural alignment (--no-align); default 1",
    "group": "0: one slot per library (--no-group); default 1",
    "copy_objs": "1: one canonical object per shared variant (--copy-objs)",
    "aslr": "0, 1 or 2 (--aslr)",
    "seed": "N: seed of the --aslr 2 placements (--seed)",
    "same_mapping": "1: --aslr-same-mapping",
    "headroom": "F: room for each library to grow, as a fraction (--headroom)",
    "replan": "1: plan from scratch (--replan)",
}


def _flag(get_var, name: str, default: bool) -> bool:
    value = get_var(name, None)
    return default if value in (None, "") else value not in ("0", "no", "false")


def settings_from_vars(get_var) -> Settings:
    """Read ``doit align workspace=DIR aslr=2 seed=N ...`` variables (``DOIT_VARIABLES``)."""
    from spacer.core.errors import BadInput
    from spacer.core.planner.model import HEADROOM

    ws = get_var("workspace", None)
    out = get_var("out", None)
    apps = tuple(a for a in (get_var("apps", "") or "").split(",") if a)
    try:
        loc = get_var("loc", None)
        return Settings(
            workspace=Path(ws) if ws else DEMO_WORKSPACE,
            out=Path(out) if out else None,
            demo=ws is None,
            count=int(get_var("count", "0") or 0),
            apps=apps,
            plan={"aslr": int(get_var("aslr", "0") or 0),
                  "same_mapping": _flag(get_var, "same_mapping", False),
                  "loc": int(loc, 0) if loc else None,
                  "align": _flag(get_var, "align", True),
                  "group": _flag(get_var, "group", True),
                  "copy_objs": _flag(get_var, "copy_objs", False),
                  "headroom": float(get_var("headroom", None) or HEADROOM)},
            seed=int(get_var("seed", "0") or 0, 0),
            replan=_flag(get_var, "replan", False),
        )
    except ValueError as exc:
        raise BadInput(f"a doit variable is not a number ({exc})",
                       hint="see doit help align") from None
