"""The options of ``spacer align``, each declared once.

Every entry point derives what it needs from :data:`OPTIONS`: the ``spacer align``
arguments (:func:`add_arguments`), the ``doit align`` variables
(:func:`from_variables`), the one validation both use (:func:`validate`), the
planner's options, what ``layout.json`` records (:func:`recorded`), and the settings
of each stage's up-to-date check (:func:`stage_settings`). A bad value, an unknown
variable, or an option given without the one it needs is refused with one line
(:class:`BadInput`, exit status 2) before any work, whichever entry point it came
through.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spacer.core.errors import BadInput

# The x86-64 small code model (Unikraft's) reaches absolute addresses below 2 GiB
# (R_X86_64_32S); an image starts at 1 MiB (its multiboot load address).
LOC_RANGE = (0x100000, 0x7FFFFFFF)
HEADROOM_RANGE = (0.0, 1.0)
PAGE = 0x1000


@dataclass(frozen=True)
class Option:
    """One option: how it is spelled, what values it takes, and what it changes."""

    name: str  # the doit variable, and the key in settings and layout.json
    flags: tuple[str, ...]  # spacer align's spellings; () for doit only
    kind: str  # "int", "float", "bool", "choice", "path", "names", "refused"
    default: Any
    help: str
    metavar: str | None = None
    choices: tuple = ()
    low: float | None = None  # the allowed range, both ends included
    high: float | None = None
    page: bool = False  # a multiple of the 4 KiB page
    stages: tuple[str, ...] = ()  # the stages whose output it changes
    recorded: bool = False  # written into layout.json's "options"
    planner: bool = False  # one of the planner's options (PlanOptions)
    requires: tuple[str, Any] | None = None  # (option, value) it only applies with
    negatable: bool = False  # --x / --no-x
    refusal: str = ""  # for the research tool's options spacer refuses: why
    # (option, value, why): combinations refused, with the reason
    conflicts: tuple[tuple[str, Any, str], ...] = ()

    def spelled(self, doit: bool) -> str:
        return f"{self.name}=" if doit or not self.flags else self.flags[-1]

    def shown(self, value: Any, doit: bool) -> str:
        """The option set to ``value`` as the user would write it (``--no-align``)."""
        if self.kind == "bool":
            if doit or not self.flags:
                return f"{self.name}={int(value)}"
            return self.flags[-1] if value else f"--no-{self.flags[-1].removeprefix('--')}"
        return self.given(value, doit)

    def given(self, value: Any, doit: bool) -> str:
        """The option with ``value``, as the user wrote it (``--aslr 3``, ``aslr=3``)."""
        return f"{self.spelled(doit)}{'' if doit or not self.flags else ' '}{value}"


def _help(doit: bool) -> str:
    return "see doit help align" if doit else "see spacer align --help"


def _parse_int(text: str) -> int:
    return int(text, 0)  # decimal or 0x hexadecimal, as the research tool's --loc


OPTIONS: tuple[Option, ...] = (
    Option("workspace", ("-w", "--workspace"), "path", None,
           "workspace with apps/<app>/build/ (default: the demo fleet, built in "
           "./demo-workspace)", metavar="DIR"),
    Option("out", ("-o", "--out"), "path", None, "output folder (default DIR/.spacer)",
           metavar="OUT"),
    Option("apps", ("-u", "--uks"), "names", (), "only these apps (default all; at least two)",
           metavar="APP"),
    Option("count", (), "int", 0, "generated demo apps on top of the demo ones",
           metavar="N", low=0),
    Option("functions", (), "int", 0, "demo function apps (many handlers on one shared "
           "runtime) on top of the demo ones", metavar="N", low=0),
    Option("loc", ("-l", "--loc"), "int", None,
           "start address of the shared code area, e.g. 0x110000, below 2 GiB (default: "
           "the page after the largest boot code)", metavar="ADDR",
           low=LOC_RANGE[0], high=LOC_RANGE[1], page=True, stages=("plan",), recorded=True,
           planner=True),
    Option("align", ("-a", "--align"), "bool", True,
           "page-align every shared slot (default); --no-align packs them",
           stages=("plan",), recorded=True, planner=True, negatable=True),
    Option("group", ("-g", "--group"), "bool", True,
           "one slot for the shared libraries that the same images hold (default); "
           "--no-group gives each library its own", stages=("plan",), recorded=True, planner=True,
           negatable=True),
    Option("copy_objs", ("--copy-objs",), "bool", False,
           "link every image with the same canonical object for a shared library (the "
           "first app's; never copied over the user's files)", stages=("plan",),
           recorded=True, planner=True),
    Option("aslr", ("--aslr",), "choice", 0,
           "1: rebuild the libraries as position-independent code from their recorded "
           "commands and send every reference that leaves a library through a table of "
           "its own, so shared library pages stay identical even next to variant "
           "libraries; 2: also give every image its own random placement of its shared "
           "libraries (default 0: relink the objects as built)", choices=(0, 1, 2),
           stages=("plan",), recorded=True, planner=True),
    Option("seed", ("--seed",), "int", 0,
           "--aslr 2: seed of the placements (default 0; the same seed gives the same "
           "images)", metavar="N", low=0, stages=("plan", "aslr"), recorded=True,
           requires=("aslr", 2)),
    Option("same_mapping", ("--aslr-same-mapping",), "bool", False,
           "--aslr 2: keep the libraries in the order of the --aslr 1 layout and move "
           "them by random gaps only", stages=("plan",), recorded=True, planner=True,
           requires=("aslr", 2)),
    Option("aslr_map", ("--aslr-map",), "refused", False,
           "the research tool's fixed map of read-only data under ASLR: not offered, and "
           "refused with the reason",
           refusal="--aslr-map is not offered: spacer's rebuilt code reaches its read-only "
           "data (strings, jump tables) relative to itself, so read-only data kept at "
           "fixed addresses while code moves would make those pages differ; --aslr 2 "
           "moves them together and keeps both shared (README: Options)"),
    Option("custom_loader", ("-c", "--custom-loader"), "bool", False,
           "put every shared read-only slot (code, read-only data) into one region above "
           "every image's own pages, and build a pool: one file of guest RAM holding that "
           "region, which QEMU maps for every guest (spacer boot --pool), so those pages "
           "are shared from the first instant, without KSM", stages=("plan",),
           recorded=True, planner=True,
           conflicts=(("aslr", 2, "every image then places its libraries at addresses of "
                       "its own, and one pool file holds one content per address"),
                      ("align", False, "the pool shares whole pages, so every slot must "
                       "start on a page of its own"))),
    Option("pool_memory", ("--pool-memory",), "int", 256,
           "-c: size of the pool file in MiB, the largest guest RAM it serves (default 256; "
           "the file is sparse)", metavar="MIB", low=16, high=LOC_RANGE[1] >> 20,
           stages=("pool",), requires=("custom_loader", True)),
    Option("headroom", ("--headroom",), "float", 0.0,
           "room for each shared library to grow in a rebuild without moving, as a "
           "fraction of its size, from 0 to 1 (default 0)", metavar="F",
           low=HEADROOM_RANGE[0], high=HEADROOM_RANGE[1], stages=("plan",), recorded=True,
           planner=True),
    Option("replan", ("--replan",), "bool", False,
           "plan from scratch; by default the previous layout is kept as far as it can "
           "be, so only the apps whose libraries must move are relinked (and with -c, "
           "the pool keeps its pages)", stages=("plan", "pool")),
    Option("relink_only", ("--relink-only",), "bool", False,
           "relink with the existing plan and linker scripts"),
)
BY_NAME = {o.name: o for o in OPTIONS}
PLAN_OPTIONS = tuple(o.name for o in OPTIONS if o.planner)  # PlanOptions' fields


def _convert(option: Option, value: Any, doit: bool) -> Any:
    """``value`` (a command-line string, or already typed) as the option's type."""
    try:
        if option.kind in ("int", "choice"):
            return value if isinstance(value, int) and not isinstance(value, bool) \
                else _parse_int(str(value))
        if option.kind == "float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if option.kind in ("bool", "refused"):
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("1", "yes", "true", "on"):
                return True
            if text in ("0", "no", "false", "off", ""):
                return False
            raise ValueError
    except (TypeError, ValueError):
        what = {"int": "a whole number (0x hex allowed)", "choice": "a whole number",
                "float": "a finite number", "bool": "0 or 1",
                "refused": "0 or 1"}[option.kind]
        raise BadInput(f"{option.given(value, doit)}: not {what}", hint=_help(doit)) from None
    if option.kind == "names":
        return tuple(value.split(",")) if isinstance(value, str) else tuple(value)
    return value


def _check_range(option: Option, value: Any, doit: bool) -> None:
    if option.choices and value not in option.choices:
        allowed = ", ".join(map(str, option.choices))
        raise BadInput(f"{option.given(value, doit)}: not one of {allowed}", hint=_help(doit))
    if value is None or option.kind not in ("int", "float"):
        return
    show = hex if option.name == "loc" else str
    low, high = option.low, option.high
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"from {show(low)} to {show(high)}" if high is not None
                  else f"at least {show(low)}")
        why = (" (the x86-64 small code model reaches addresses below 2 GiB, and an image "
               "starts at 1 MiB)" if option.name == "loc" else "")
        raise BadInput(f"{option.given(show(value), doit)}: out of range, {bounds}{why}",
                       hint=_help(doit))
    if option.page and value % PAGE:
        raise BadInput(f"{option.given(show(value), doit)}: not page-aligned (a multiple of "
                       f"{PAGE:#x})", hint=_help(doit))


def validate(given: dict[str, Any], doit: bool = False) -> dict[str, Any]:
    """Every option's value: ``given`` (name -> value, strings allowed; an absent or
    None value means not given) converted and checked, defaults for the rest.
    :class:`BadInput` with one line for the first bad one; ``doit`` says which
    spelling the line uses."""
    values = {}
    for option in OPTIONS:
        raw = given.get(option.name)
        values[option.name] = option.default if raw is None else _convert(option, raw, doit)
        _check_range(option, values[option.name], doit)
    for option in OPTIONS:
        raw = given.get(option.name)
        if option.kind == "refused" and values[option.name]:
            raise BadInput(option.refusal)
        for other, value, why in option.conflicts if values[option.name] else ():
            if values[other] == value:
                raise BadInput(f"{option.shown(values[option.name], doit)} does not go with "
                               f"{BY_NAME[other].shown(value, doit)}: {why}",
                               hint="leave one of them out")
        if option.requires and raw is not None and values[option.name] != option.default:
            need, value = option.requires
            if values[need] != value:
                other = BY_NAME[need]
                raise BadInput(f"{option.spelled(doit)} only applies to "
                               f"{other.shown(value, doit)}",
                               hint=f"add {other.shown(value, doit)} or leave "
                               f"{option.spelled(doit)} out")
    return values


def from_variables(variables: dict[str, str], extra: Iterable[str] = ()) -> dict[str, Any]:
    """``doit align NAME=VALUE ...``: validated values; an unknown variable is refused.
    ``extra`` names variables that other commands take (not options of align)."""
    unknown = sorted(set(variables) - set(BY_NAME) - set(extra))
    if unknown:
        raise BadInput(f"unknown variable {unknown[0]}=",
                       hint=f"doit align takes {', '.join(o.name for o in OPTIONS)}")
    return validate({k: v for k, v in variables.items() if k in BY_NAME}, doit=True)


def recorded(values: dict[str, Any]) -> dict[str, Any]:
    """What ``layout.json`` records: every option that shapes the layout."""
    return {o.name: values[o.name] for o in OPTIONS if o.recorded}


def plan_values(values: dict[str, Any]) -> dict[str, Any]:
    """The planner's options (PlanOptions' fields)."""
    return {name: values[name] for name in PLAN_OPTIONS}


def stage_settings(stage: str, values: dict[str, Any]) -> dict[str, Any]:
    """The options that change ``stage``'s output: its ``config_changed`` settings."""
    return {o.name: values[o.name] for o in OPTIONS if stage in o.stages}


def add_arguments(parser: Any) -> None:
    """``spacer align``'s arguments. Each is read as given (strings; None when absent),
    so :func:`validate` checks it exactly as it checks a doit variable."""
    import argparse

    for option in OPTIONS:
        if not option.flags:
            continue
        kwargs: dict[str, Any] = {"dest": option.name, "default": None, "help": option.help}
        if option.kind == "names":
            kwargs.update(nargs="+", metavar=option.metavar)
        elif option.kind in ("bool", "refused"):
            kwargs["action"] = (argparse.BooleanOptionalAction if option.negatable
                                else "store_const")
            if not option.negatable:
                kwargs["const"] = True
        else:
            kwargs["metavar"] = option.metavar or ("|".join(map(str, option.choices)) or None)
        parser.add_argument(*option.flags, **kwargs)
