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


def settings_from_vars(get_var) -> Settings:
    """Read ``doit align workspace=DIR out=DIR apps=a,b count=N aslr=2 seed=N`` variables."""
    ws = get_var("workspace", None)
    out = get_var("out", None)
    apps = tuple(a for a in (get_var("apps", "") or "").split(",") if a)
    return Settings(
        workspace=Path(ws) if ws else DEMO_WORKSPACE,
        out=Path(out) if out else None,
        demo=ws is None,
        count=int(get_var("count", "0") or 0),
        apps=apps,
        plan={"aslr": int(get_var("aslr", "0") or 0),
              "same_mapping": get_var("same_mapping", "0") not in ("", "0")},
        seed=int(get_var("seed", "0") or 0, 0),
        replan=get_var("replan", "0") not in ("", "0"),
    )
