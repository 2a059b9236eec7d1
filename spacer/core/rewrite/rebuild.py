"""Rebuild a build's library objects as position-independent code, into spacer's folder.

Unikraft compiles with ``-fno-PIC``: code reaches other libraries with direct
calls and absolute or RIP-relative addresses, so a shared library's bytes depend
on where everything it refers to sits in each image. Compiled with ``-fPIC
-fno-plt``, every reference to a global symbol becomes a load through a GOT slot
(``R_X86_64_GOTPCRELX``/``REX_GOTPCRELX``), which :mod:`spacer.core.rewrite.indirect`
then points at a table of the library's own.

Every object of a Unikraft build has its command recorded in ``<object>.cmd``
(``lib<X>.o`` <- ``objcopy`` <- ``lib<X>.ld.o`` <- ``ld -r`` <- ``lib<X>/*.o`` <-
``gcc -c``). :func:`rebuild_object` replays that chain without a shell, with the
compile flags changed, every output renamed into ``out_root`` and dependency files
dropped, so the user's build folder is only read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.programs import run_argv
from spacer.core.readers.deplist import dependency_file, fixdep_file, read_dependencies
from spacer.core.readers.recipe import moved_roots, read_cmd, relocate, substitute
from spacer.core.rewrite.compiles import CompileCache, CompileJob

# local-exec TLS: a static image's thread-local variables sit at link-time offsets
# from the thread pointer, as in the -fno-PIC original; the general-dynamic model
# that -fPIC would pick needs __tls_get_addr sequences ld must rewrite.
PIC_FLAGS = ("-fPIC", "-fno-plt", "-ftls-model=local-exec")
_NON_PIC = {"-fno-PIC", "-fno-pic", "-fno-PIE", "-fno-pie", "-fPIE", "-fpie", "-fpic",
            "-mcmodel=kernel"}
_DEP_WITH_VALUE = {"-MF", "-MT", "-MQ"}
_DEP_FLAGS = {"-MD", "-MMD", "-MP"}


@dataclass
class _Step:
    argv: list[str]
    output: Path
    inputs: list[Path] = field(default_factory=list)  # rebuilt objects it reads
    compile: CompileJob | None = None  # a compile, which the fleet's cache may hold


def is_compile(argv: list[str]) -> bool:
    return "-c" in argv


def pic_flags(argv: list[str]) -> list[str]:
    """A compile command with ``-fPIC -fno-plt`` in place of its code-model flags and
    without the dependency files make reads (they would land in the build folder)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _DEP_WITH_VALUE:
            skip = True
        elif arg in _NON_PIC or arg in _DEP_FLAGS or arg.startswith(("-Wp,-MD,", "-Wp,-MMD,")):
            continue
        else:
            out.append(arg)
    index = out.index("-c")
    return [*out[:index], *PIC_FLAGS, *out[index:]]


def _output_of(argv: list[str], cmd_file: Path) -> str | None:
    if "-o" in argv[:-1]:
        return argv[argv.index("-o") + 1]
    if Path(argv[0]).name.endswith("objcopy"):  # objcopy IN OUT
        files = [a for a in argv[1:] if not a.startswith("-")]
        return files[-1] if len(files) >= 2 else None
    return None


_SOURCE_SUFFIXES = (".c", ".S", ".s", ".cc", ".cpp")


class Rebuilder:
    """Replays the recorded chains of one build into ``out_root``."""

    def __init__(self, build_dir: Path, cwd: Path, out_root: Path,
                 log: Callable[[str], None] | None = None, cache: CompileCache | None = None,
                 walk_only: bool = False):
        self.build_dir = Path(build_dir).resolve()
        self.cwd = Path(cwd)
        self.out_root = Path(out_root)
        self.log = log
        self.cache = cache
        self.walk_only = walk_only  # only find what the replay reads (:attr:`read`)
        self.steps: dict[Path, _Step] = {}  # original output -> its replay
        self.read: set[Path] = set()  # the records and sources the replay reads
        self._resolved: dict[str, Path] = {}
        self.keys: dict[Path, str | None] = {}  # original -> the cache key of its rebuild

    def target(self, original: Path) -> Path:
        """Where the rebuilt copy of ``original`` goes: the same relative place."""
        original = Path(original).resolve()
        try:
            rel = original.relative_to(self.build_dir)
        except ValueError:
            digest = hashlib.sha256(str(original).encode()).hexdigest()[:12]
            rel = Path("outside") / digest / original.name
        return self.out_root / rel

    def plan(self, original: Path) -> Path:
        """Record the steps that rebuild ``original`` (and what it is made from)."""
        original = Path(original).resolve()
        if original in self.steps:
            return self.target(original)
        cmd_file = original.with_name(original.name + ".cmd")
        if not cmd_file.is_file():
            raise BadInput("no recorded command to rebuild this object as position-"
                           "independent code", original,
                           "rebuild the unikernel with make so its .cmd files exist, or use --aslr 0")
        commands = read_cmd(cmd_file)
        self.read.add(cmd_file)
        if len(commands) != 1:
            raise BadInput(f"expected one command, found {len(commands)}", cmd_file)
        argv = commands[0]
        if argv and argv[0] == "":
            argv = argv[1:]
        out = _output_of(argv, cmd_file)
        if out is None:
            raise BadInput("the recorded command does not write this object", cmd_file)
        moved = None
        if self._abs(out) != original:
            # A copied or moved build: its records name the old place (as the link's).
            moved = moved_roots(str(self._abs(out)), cmd_file)
            argv = relocate(argv, moved)
            out = _output_of(argv, cmd_file)
            if out is None or self._abs(out) != original:
                raise BadInput("the recorded command does not write this object", cmd_file)
        mapping = {str(original): str(self.target(original))}
        inputs: list[Path] = []
        job = None
        if not is_compile(argv):
            for arg in argv[1:]:
                path = self._abs(arg) if arg.endswith(".o") and not arg.startswith("-") else None
                if path is not None and path != original and path.is_file():
                    mapping[str(path)] = str(self.plan(path))
                    inputs.append(path)
        else:
            listed, options = self._note_sources(argv, moved)
            if not self.walk_only:
                argv = pic_flags(argv)
                job = CompileJob(argv, out, self.cwd, self.build_dir, tuple(listed), original,
                                 options)
        if self.walk_only:  # what the replay reads is known; its commands are not needed
            self.steps[original] = _Step([], self.target(original), inputs)
        else:
            self.steps[original] = _Step(substitute(tuple(argv), mapping, str(self.cwd)),
                                         self.target(original), inputs, job)
        return self.target(original)

    def _note_sources(self, argv: list[str], moved: tuple[str, str] | None = None
                      ) -> tuple[list[Path], tuple[str, ...]]:
        """What a compile reads: its source, and the headers of the dependency list the
        build wrote, where it wrote one (Unikraft's ``-Wp,-MD,``, kept in fixdep's
        form; in a ``moved`` build, its files are where they moved to). Returns that
        list's files (empty when the build recorded none) and the configuration options
        its sources test."""
        named = [a for a in argv[1:] if a.endswith(_SOURCE_SUFFIXES) and not a.startswith("-")]
        written = dependency_file(argv)
        deps = None
        if written is not None:
            for listing in (self._abs(written), fixdep_file(self._abs(written))):
                deps = read_dependencies(listing)
                if deps is not None:
                    self.read.add(listing)
                    break
        files = list(deps.files) if deps else []
        if moved is not None:
            files = relocate(files, moved)
        listed = [p for p in map(self._abs, files) if p.is_file()]
        self.read.update(p for p in map(self._abs, named) if p.is_file())
        self.read.update(listed)
        return listed, deps.options if deps else ()

    def _abs(self, arg: str) -> Path:
        # Memoised: the dependency lists name the same headers for every object.
        found = self._resolved.get(arg)
        if found is None:
            p = Path(arg)
            found = self._resolved[arg] = (p if p.is_absolute() else self.cwd / p).resolve()
        return found

    def run(self, jobs: int = 2) -> None:
        """Run every recorded step, compiles in parallel, then what reads them."""
        done: set[Path] = set()
        pending = dict(self.steps)
        while pending:
            ready = [o for o, s in pending.items() if all(i in done for i in s.inputs)]
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                keys = list(pool.map(self._run_one, [pending[o] for o in ready]))
            for o, key in zip(ready, keys, strict=True):
                self.keys[o] = key
                done.add(o)
                del pending[o]

    def _run_one(self, step: _Step) -> str | None:
        """Run ``step`` or take its output from the cache; the key it is kept under."""
        step.output.parent.mkdir(parents=True, exist_ok=True)
        if self.cache is None:
            self._replay(step, step.output)
            return None
        if step.compile is not None:
            return self.cache.provide(step.compile, step.output,
                                      lambda dest: self._replay(step, dest))[1]
        # A partial link or objcopy of cached objects is cached too, by their keys.
        inputs = {str(self.target(i)): self.keys.get(i) for i in step.inputs}
        key = None
        if step.inputs and all(inputs.values()):
            key = self.cache.link_key(step.argv, str(step.output), inputs, self.cwd)
        if key is None:
            self._replay(step, step.output)
        else:
            self.cache.provide_keyed(key, step.output, lambda dest: self._replay(step, dest))
        return key

    def _replay(self, step: _Step, output: Path) -> None:
        """Run ``step``, writing its output to ``output``."""
        argv = [str(output) if a == str(step.output) else a for a in step.argv]
        run_argv(argv, str(self.cwd), f"rebuild {step.output.name} as position-independent"
                 " code", self.log)
        if not output.is_file() or (output != step.output and output.stat().st_size == 0):
            raise BadInput("the rebuild made no object", step.output)
