"""The build's own commands, read from Unikraft's ``.cmd`` files, as argv lists.

Unikraft's make build writes every command it runs into ``<output>.cmd`` and runs
that file with the shell. The final link is ``<image>.dbg.cmd``; the post-link
steps that turn the debug image into the bootable one (strip, bootinfo,
multiboot) each have their own ``.cmd`` next to the image. spacer reruns them
without a shell, so it accepts what those files contain in practice (words,
quotes, ``&&``) and refuses, with one line, anything else (pipes, redirections).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from spacer.core.errors import BadInput

_SEPARATORS = {"&&", ";"}
_POSTLINK_ORDER = ("", ".bootinfo", ".multiboot")  # X.cmd, X.bootinfo.cmd, X.multiboot.cmd


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    cmd_file: str

    @classmethod
    def from_json(cls, data: dict) -> Command:
        return cls(tuple(data["argv"]), data["cmd_file"])


@dataclass(frozen=True)
class LinkRecipe:
    """How one image was linked and finished, as recorded by its build."""

    cmd_file: str
    cwd: str
    argv: tuple[str, ...]
    objects: tuple[str, ...]  # the object files on the link line, in order, as absolute paths
    scripts: tuple[tuple[str, str], ...]  # ("dT" | "T", absolute path), in command-line order
    debug_image: str  # absolute path of the linked .dbg
    image: str  # absolute path of the bootable image the post-link steps make
    postlink: tuple[Command, ...]

    @property
    def default_script(self) -> str:
        return default_script(self.scripts, self.cmd_file)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> LinkRecipe:
        """The recipe as the app facts hold it (JSON lists back to tuples)."""
        return cls(data["cmd_file"], data["cwd"], tuple(data["argv"]), tuple(data["objects"]),
                   tuple((kind, path) for kind, path in data["scripts"]),
                   data["debug_image"], data["image"],
                   tuple(Command.from_json(c) for c in data["postlink"]))


def default_script(scripts, cmd_file: str) -> str:
    """The ``-dT`` platform script among a link's ``(kind, path)`` scripts."""
    for kind, path in scripts:
        if kind == "dT":
            return path
    raise BadInput("the link command passes no -dT platform linker script", cmd_file)


# A word of plain characters and quoted strings, a run of shell punctuation, or a
# quote that nothing closes. findall takes the longest word at each place and never
# has to come back (a pattern that had to reach the text's end could, for ever).
_TOKEN = re.compile(r"""((?:[^ \t\r\n'"();<>|&]+|'[^']*'|"[^"]*")+)|([();<>|&]+)|(['"])""")
_UNQUOTE = re.compile(r"""'([^']*)'|"([^"]*)"|([^'"]+)""")


def shell_words(text: str) -> list[str]:
    """POSIX shell words and punctuation runs, as ``shlex`` (posix, punctuation
    characters, whitespace split) gives them: a build's thousands of ``.cmd`` records
    are split here, and shlex takes twenty times as long. Text with what this does
    not handle (backslashes, comments, expansions) goes to shlex."""
    if any(c in text for c in "\\#$`"):
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        return list(lexer)
    tokens = _TOKEN.findall(text)
    if any(unclosed for _, _, unclosed in tokens):
        raise ValueError("No closing quotation")
    return [punct or (word if "'" not in word and '"' not in word else "".join(
        part.group(part.lastindex) for part in _UNQUOTE.finditer(word)))
        for word, punct, _ in tokens]


def split_commands(text: str, cmd_file: str) -> list[list[str]]:
    """``a && b`` -> ``[[a...], [b...]]``.

    Unikraft pipes some tools' messages through a filter (``strip ... 2>&1 | { grep
    -Ev ... || true; }``): the filter and the redirection only touch what the tool
    prints, so they are dropped; spacer checks the tool's exit status instead.
    Other redirections are refused.
    """
    commands: list[list[str]] = [[]]
    try:
        tokens = shell_words(text)
    except ValueError as exc:
        raise BadInput(f"cannot parse recorded command ({exc})", cmd_file) from None
    in_filter, depth = False, 0
    for i, tok in enumerate(tokens):
        if in_filter:  # skip "| { ... }" up to the next separator outside braces
            depth += (tok == "{") - (tok == "}")
            if depth == 0 and tok in _SEPARATORS:
                in_filter = False
                commands.append([])
        elif tok in _SEPARATORS:
            commands.append([])
        elif tok == "|":
            in_filter, depth = True, 0
        elif tok == ">&" and commands[-1] and commands[-1][-1] == "2" \
                and i + 1 < len(tokens) and tokens[i + 1] == "1":
            commands[-1].pop()  # "2>&1" only merges the tool's messages
            tokens[i + 1] = ""
        elif tok and set(tok) <= set("();<>|&"):
            raise BadInput(f"shell construct '{tok}' in recorded command", cmd_file,
                           "spacer reruns commands without a shell")
        elif tok:
            commands[-1].append(tok)
    commands = [c for c in commands if c]
    if not commands:
        raise BadInput("recorded command is empty", cmd_file, "rebuild the unikernel")
    return commands


def read_cmd(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise BadInput("recorded build command missing", path,
                       "rebuild the unikernel with its own make so the .cmd files exist")
    return split_commands(path.read_text(errors="replace").strip(), str(path))


def _linker_options(argv: list[str]) -> list[str]:
    """Flatten ``-Wl,a,b`` and ``-Xlinker a`` into the linker's own argument list."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg.startswith("-Wl,"):
            out.extend(arg[4:].split(","))
        elif arg == "-Xlinker":
            out.append(next(it, ""))
        else:
            out.append(arg)
    return out


def _scripts(argv: list[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    opts = _linker_options(argv)
    for i, opt in enumerate(opts):
        nxt = opts[i + 1] if i + 1 < len(opts) else ""
        if opt in ("-dT", "--default-script"):
            found.append(("dT", nxt))
        elif opt in ("-T", "--script"):
            found.append(("T", nxt))
        elif opt.startswith("--default-script="):
            found.append(("dT", opt.split("=", 1)[1]))
        elif opt.startswith("--script="):
            found.append(("T", opt.split("=", 1)[1]))
        elif opt.startswith("-T") and len(opt) > 2 and not opt.startswith("-Ttext") \
                and not opt.startswith("-Tdata") and not opt.startswith("-Tbss"):
            found.append(("T", opt[2:]))
    return found


def _output(argv: list[str], cmd_file: str) -> str:
    for i, arg in enumerate(argv):
        if arg == "-o" and i + 1 < len(argv):
            return argv[i + 1]
    raise BadInput("the link command has no -o output", cmd_file)


def _objects(argv: list[str]) -> list[str]:
    objs: list[str] = []
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
            continue
        if arg in ("-o", "-T", "-Xlinker", "-L", "-l", "-include", "-MF"):
            skip = True
        elif not arg.startswith("-") and arg.endswith(".o"):
            objs.append(arg)
    return objs


def _absolute(path: str, cwd: Path) -> str:
    p = Path(path)
    return str(p if p.is_absolute() else (cwd / p))


def read_link_recipe(cmd_file: Path, cwd: Path) -> LinkRecipe:
    """Parse ``<image>.dbg.cmd`` and the post-link ``.cmd`` files beside the image.

    ``cwd`` is where the build ran (Unikraft runs make in its source tree); relative
    paths in the commands are taken from there. The records hold absolute paths: when
    the build folder was copied or moved since (``cp -a ws1 ws2``), they still name
    the old place, and are mapped into this one (see :func:`moved_roots`).
    """
    commands = read_cmd(cmd_file)
    if len(commands) != 1:
        raise BadInput("expected one link command", cmd_file)
    argv = commands[0]
    dbg = _absolute(_output(argv, str(cmd_file)), cwd)
    if not dbg.endswith(".dbg"):
        raise BadInput(f"link output {dbg} is not a .dbg debug image", cmd_file)
    moved = moved_roots(dbg, cmd_file)
    if moved:
        argv = relocate(argv, moved)
        dbg = _absolute(_output(argv, str(cmd_file)), cwd)
    image = dbg[: -len(".dbg")]
    scripts = [(kind, _absolute(p, cwd)) for kind, p in _scripts(argv)]
    objects = tuple(_absolute(o, cwd) for o in _objects(argv))
    if moved:
        _require_copied(cmd_file, moved, [*objects, *(p for _, p in scripts)])
    return LinkRecipe(
        cmd_file=str(cmd_file),
        cwd=str(cwd),
        argv=tuple(argv),
        objects=objects,
        scripts=tuple(scripts),
        debug_image=dbg,
        image=image,
        postlink=tuple(_postlink(Path(image), moved)),
    )


def moved_roots(recorded_dbg: str, cmd_file: Path) -> tuple[str, str] | None:
    """``(old, new)`` folder when the link record names another folder than its own.

    The record ``X.dbg.cmd`` sits beside its output ``X.dbg``. If it names another
    place, the build was copied or moved: the longest common tail of the two folders
    is the part that moved with it (``apps/hello/build``), and what precedes it is the
    old and the new root. None when the record names its own folder.
    """
    old = Path(os.path.realpath(recorded_dbg))
    new = Path(os.path.realpath(Path(cmd_file).with_name(Path(cmd_file).name[: -len(".cmd")])))
    if old == new:
        return None
    if old.name != new.name:
        raise BadInput(f"the recorded link writes {recorded_dbg}, not the image beside its "
                       "record", cmd_file, "rebuild the unikernel")
    a, b = old.parent.parts, new.parent.parts
    tail = 0
    while tail < min(len(a), len(b)) - 1 and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    if tail == 0:
        raise BadInput(f"the recorded link writes {recorded_dbg}, outside this build folder",
                       cmd_file, "rebuild the unikernel in this workspace")
    return str(Path(*a[: len(a) - tail])), str(Path(*b[: len(b) - tail]))


def relocate(argv: list[str] | tuple[str, ...], moved: tuple[str, str]) -> list[str]:
    """``argv`` with every absolute path under the old root mapped to the new root."""
    old, new = moved

    def one(path: str) -> str:
        if path.startswith("/") and Path(path).is_relative_to(old):
            return str(Path(new, Path(path).relative_to(old)))
        return path

    return map_paths(tuple(argv), one)


def _require_copied(cmd_file: Path, moved: tuple[str, str], paths: list[str]) -> None:
    """After mapping, every file the link reads from the old place must be in the copy."""
    old, new = moved
    for path in paths:
        if Path(path).is_relative_to(new) and not Path(path).is_file():
            original = Path(old, Path(path).relative_to(new))
            raise BadInput(f"the recorded link names {original}, outside this build folder, "
                           f"and this copy has no {path}", cmd_file,
                           "the workspace was copied or moved incompletely; rebuild it here")


def _postlink(image: Path, moved: tuple[str, str] | None = None) -> list[Command]:
    """The post-link steps recorded beside the image, in the order the build ran them."""
    known = [image.parent / f"{image.name}{suffix}.cmd" for suffix in _POSTLINK_ORDER]
    others = sorted(p for p in image.parent.glob(f"{image.name}.*.cmd")
                    if p not in known and not p.name.endswith(".dbg.cmd"))
    steps: list[Command] = []
    for path in [*known, *others]:
        if path.is_file():
            steps.extend(Command(tuple(relocate(argv, moved) if moved else argv), str(path))
                         for argv in read_cmd(path))
    if not steps:
        raise BadInput("no post-link commands found", image.parent / f"{image.name}.cmd",
                       "rebuild the unikernel so its strip/multiboot .cmd files exist")
    return steps + _unrecorded_multiboot(image, steps)


def _unrecorded_multiboot(image: Path, steps: list[Command]) -> list[Command]:
    """Unikraft 0.17 runs ``support/scripts/multiboot.py IMAGE`` last without a ``.cmd``.

    When the bootable image is ELF32 but no recorded step converts it, add that step:
    the build's own script (beside ``mkbootinfo.py``) when there is one, else ours.
    """
    if any("multiboot" in Path(c.argv[0]).name or any("multiboot" in a for a in c.argv[:2])
           for c in steps):
        return []
    try:
        with image.open("rb") as f:
            is_elf32 = f.read(5)[4:5] == b"\x01"
    except OSError:
        return []
    if not is_elf32:
        return []
    script = None
    for c in steps:
        if Path(c.argv[0]).name == "mkbootinfo.py":
            candidate = Path(c.argv[0]).parent / "multiboot.py"
            script = candidate if candidate.is_file() else None
    ours = Path(__file__).resolve().parent.parent / "demo" / "scripts" / "multiboot.py"
    argv = (str(script), str(image)) if script else (sys.executable, str(ours), str(image))
    return [Command(argv, f"{image}.multiboot (run by make without a .cmd)")]


def map_paths(argv: tuple[str, ...], fn: Callable[[str], str]) -> list[str]:
    """Apply ``fn`` to every path-like word of ``argv``: plain words, the parts of
    ``-Wl,a,b`` and the value of ``key=path``; options are left alone."""
    def one(part: str) -> str:
        if not part or (part.startswith("-") and "=" not in part):
            return part
        if "=" in part and not part.startswith("/"):
            key, _, value = part.partition("=")
            return f"{key}={one(value)}" if value else part
        return fn(part)

    out: list[str] = []
    for arg in argv:
        if arg.startswith("-Wl,"):
            out.append("-Wl," + ",".join(one(x) for x in arg[4:].split(",")))
        else:
            out.append(one(arg))
    return out


def substitute(argv: tuple[str, ...], mapping: dict[str, str], cwd: str) -> list[str]:
    """Replace paths in an argv, also inside ``-Wl,a,b`` and ``key=path`` arguments.

    Keys of ``mapping`` are absolute paths; arguments are resolved against ``cwd``.
    """
    # Only a word that names a file of the mapping can change: its last part says so
    # without the file system (a compile command has hundreds of -D words).
    names = {k.rpartition("/")[2] for k in mapping}

    def one(part: str) -> str:
        if part.rpartition("/")[2] not in names:
            return part
        absolute = _absolute(part, Path(cwd)) if "/" in part or Path(cwd, part).exists() else part
        return mapping.get(absolute, mapping.get(part, part))

    return map_paths(argv, one)
