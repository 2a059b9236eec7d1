"""Compile each distinct object once per fleet, not once per app.

Most apps of a fleet build most libraries from the same sources with the same flags,
each in its own build folder. The position-independent rebuild of such an object is
the same bytes in every app, so :class:`CompileCache` keeps it under a key of what
determines the compiler's output, and every other app links it from there:

- the command, with the paths that only name the app's build folder and its working
  folder abstracted (and the output path dropped);
- the compiler it runs (path, size, modification time);
- what the compiler read, from the dependency list the build recorded (Unikraft's
  ``-Wp,-MD,``, kept in fixdep's form): the digest of each source, and of each header
  outside the app's folders; the header search path is then left out, since it names
  every library the app enables while the list says which headers it found;
- for what the build generated in its own folder (the configuration, whose options
  fixdep lists in place of its header, and uklibid's table of the app's libraries,
  which names the app), or where no list was recorded: the variant digest of the
  build's own object (its loaded bytes and relocations), which the same sources made
  with the original flags. Those headers differ between apps whose code is the same.

A build folder's path can still reach an object's loaded bytes, through ``__FILE__``
in a source that sits in the build folder (lwIP's assertions, in sources unpacked
into ``build/liblwip/``). After each compile the cache looks for the build folder's
and the working folder's paths in the object's allocated sections; where it finds
one, it keeps that key *private*: every app compiles its own copy. So an image's
loaded bytes are what a compile in its own build folder gives. Debug sections are
not compared: a reused object names, in its debug information, the folder of the
app that compiled it first.

Entries are written to a temporary name and renamed, and made read-only, so an
interrupted run leaves no entry that looks finished and no later step can change one
in place; apps link them (hard links where the file system allows, else copies).
Workers of parallel runs take a lock per key, so two apps never compile one object
at the same time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spacer.core.outputs.atomic import write_text_atomic
from spacer.core.programs import program
from spacer.core.readers.elf import SHF_ALLOC, SHT_NOBITS, ElfFile, reading
from spacer.core.readers.objects import read_object

# Part of every key: a change to how keys are made never reuses an older entry.
CACHE_VERSION = 1
# Compiles' keys are hex digits; other entries' keys start with a letter of their own.
LINKED = "l"  # a partial link or objcopy of cached objects
REDIRECTED = "g"  # an object whose GOT relocations aim at its library's table
_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class CompileJob:
    """One recorded compile, as the cache sees it."""

    argv: list[str]  # the position-independent command, output as recorded
    output: str  # the output argument as it appears in ``argv``
    cwd: Path
    build_dir: Path
    inputs: tuple[Path, ...]  # the dependency list the build recorded (may be empty)
    original: Path  # the build's own object, made from the same sources
    # The configuration options its sources test: fixdep's lists name them in place of
    # the generated configuration header.
    options: tuple[str, ...] = ()

    @property
    def roots(self) -> tuple[str, ...]:
        """Folders whose path may only name the app, longest first."""
        return tuple(sorted({str(self.build_dir), str(self.cwd)} - {"/"}, key=len,
                            reverse=True))


class CompileCache:
    """Position-independent objects by what determines them (see the module doc)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._file_digests: dict[tuple, str] = {}
        self._seconds: dict[Path, float] = {}  # compiled, not yet published: how long

    def key(self, job: CompileJob) -> str | None:
        """The job's key; None when the build's own object is missing."""
        if not job.original.is_file():
            return None
        compiler = program(job.argv[0], str(job.cwd))
        if compiler is None:
            return None
        h = hashlib.sha256(f"spacer compile cache {CACHE_VERSION}\n".encode())
        # With a dependency list, which headers the search path found is known, and the
        # path itself (which names every library the app enables) is left out.
        argv = _without_search_path(job.argv) if job.inputs else job.argv
        for arg in argv:
            h.update(b"<out>" if arg == job.output else self._abstract(arg, job).encode())
            h.update(b"\0")
        st = os.stat(compiler)
        h.update(f"\ncompiler {os.path.realpath(compiler)} {st.st_size} "
                 f"{st.st_mtime_ns}\n".encode())
        # The sources and the headers outside the app's folders (Unikraft's and the
        # libraries' trees) by their content. Headers the build generated in its own
        # folder (the configuration, uklibid's table of the app's libraries, which
        # names the app) differ between apps that compile the same code: the build's
        # object, made from the same sources with the original flags, stands for them,
        # by its loaded bytes and relocations (not the paths in its debug sections).
        own = [p for p in job.inputs if _inside(p, job.roots) and p.suffix not in _SOURCES]
        for path in sorted(set(job.inputs) - set(own)):
            h.update(f"{self._abstract(str(path), job)} {self._digest(path)}\n".encode())
        if own or job.options or not job.inputs:
            h.update(f"object {read_object(job.original).digest}\n".encode())
        return h.hexdigest()

    def link_key(self, argv: list[str], output: str, inputs: dict[str, str],
                 cwd: Path) -> str | None:
        """The key of a step that only combines cached objects (``ld -r``, ``objcopy``):
        its command with each input named by that input's key."""
        tool = program(argv[0], str(cwd))
        if tool is None:
            return None
        st = os.stat(tool)
        h = hashlib.sha256(f"spacer link cache {CACHE_VERSION}\n{os.path.realpath(tool)} "
                           f"{st.st_size} {st.st_mtime_ns}\n".encode())
        for arg in argv[1:]:
            h.update(b"<out>" if arg == output else
                     f"<in {inputs[arg]}>".encode() if arg in inputs else arg.encode())
            # A file it names besides its inputs (objcopy's --keep-global-symbols=F):
            # its content, too.
            for named in {arg, arg.partition("=")[2]} - {"", output, *inputs}:
                path = Path(named) if named.startswith("/") else Path(cwd, named)
                if "/" in named and path.is_file():
                    h.update(f" {self._digest(path)}".encode())
            h.update(b"\0")
        return LINKED + h.hexdigest()

    def provide(self, job: CompileJob, dest: Path,
                compile_to: Callable[[Path], None]) -> tuple[bool, str | None]:
        """Put the job's object at ``dest``, from the cache where it holds one, else by
        ``compile_to(path)``. Whether it compiled, and the key it is kept under."""
        key = self.key(job)
        if key is None:
            compile_to(dest)
            return True, None
        if self._private(key):
            return self._provide_private(key, job, dest, compile_to)
        if self._take(key, dest):
            return False, key
        with self._lock(key):
            if self._private(key):
                return self._provide_private(key, job, dest, compile_to)
            if self._take(key, dest):
                return False, key
            tmp = self._compiled(compile_to)
            if _names_folder(tmp, job.roots):
                self._mark_private(key)
                key = self._private_key(key, job)
            self._publish(tmp, key)
            self._take(key, dest)
        return True, key

    def provide_keyed(self, key: str, dest: Path, make: Callable[[Path], None]) -> bool:
        """:meth:`provide` for an object keyed by the caller (:meth:`link_key`, a rewrite
        of a cached object). True when it ran ``make``."""
        if self._take(key, dest):
            return False
        with self._lock(key):
            if self._take(key, dest):
                return False
            self._publish(self._compiled(make), key)
            self._take(key, dest)
        return True

    def entries(self) -> int:
        """How many compiled objects the cache holds (partial links left out)."""
        if not self.root.is_dir():
            return 0
        return sum(1 for p in self.root.glob("*.o") if p.name[0] in _HEX)

    def compile_seconds(self) -> float:
        """What compiling the cache's entries took, one after another (each entry's
        compile time is kept beside it)."""
        total = 0.0
        for path in self.root.glob("*.o.seconds") if self.root.is_dir() else ():
            if path.name[0] not in _HEX:
                continue
            try:
                total += float(path.read_text())
            except (OSError, ValueError):
                continue
        return total

    # -- internals

    def _abstract(self, text: str, job: CompileJob) -> str:
        for n, root in enumerate(job.roots):
            text = text.replace(root, f"<root{n}>")
        return text

    def _digest(self, path: Path) -> str:
        st = os.stat(path)
        ident = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        found = self._file_digests.get(ident)
        if found is None:
            with reading(Path(path)), open(path, "rb") as f:
                found = hashlib.file_digest(f, "sha256").hexdigest()
            self._file_digests[ident] = found
        return found

    def _provide_private(self, key: str, job: CompileJob, dest: Path,
                         compile_to: Callable[[Path], None]) -> tuple[bool, str]:
        own = self._private_key(key, job)
        if self._take(own, dest):
            return False, own
        self._publish(self._compiled(compile_to), own)
        self._take(own, dest)
        return True, own

    def _private_key(self, key: str, job: CompileJob) -> str:
        return hashlib.sha256(f"{key}\n{job.roots}".encode()).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.root / f"{key}.o"

    def _private(self, key: str) -> bool:
        return (self.root / f"{key}.private").exists()

    def _mark_private(self, key: str) -> None:
        (self.root / f"{key}.private").touch()

    def _take(self, key: str, dest: Path) -> bool:
        entry = self._entry(key)
        if not entry.is_file():
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        try:
            os.link(entry, dest)
        except OSError:
            shutil.copyfile(entry, dest)
        return True

    def _compiled(self, compile_to: Callable[[Path], None]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        # ".compile.<random>.tmp": what a killed run leaves, the next run removes
        # (spacer.core.outputs.outdir.remove_leftovers).
        fd, name = tempfile.mkstemp(prefix=".compile.", suffix=".tmp", dir=self.root)
        os.close(fd)
        tmp = Path(name)
        started = time.perf_counter()
        try:
            compile_to(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._seconds[tmp] = time.perf_counter() - started
        return tmp

    def _publish(self, tmp: Path, key: str) -> None:
        entry = self._entry(key)
        seconds = self._seconds.pop(tmp, None)
        if seconds is not None:
            write_text_atomic(entry.with_name(entry.name + ".seconds"), f"{seconds:.4f}\n")
        os.chmod(tmp, 0o444)
        os.replace(tmp, entry)

    @contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        # One lock per first two hex digits: 256 files at most, never removed (a lock
        # file removed while a worker holds it would let another take a new one).
        with open(self.root / f"{key[:2]}.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


_SEARCH_PATH = ("-I", "-isystem", "-iquote", "-idirafter")
_SOURCES = {".c", ".S", ".s", ".cc", ".cpp"}


def _inside(path: Path, roots: tuple[str, ...]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _without_search_path(argv: list[str]) -> list[str]:
    """``argv`` without its header search folders (``-Idir``, ``-I dir``, ...)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _SEARCH_PATH:
            skip = True
        elif not arg.startswith(_SEARCH_PATH):
            out.append(arg)
    return out


def _names_folder(path: Path, roots: tuple[str, ...]) -> bool:
    """Whether an allocated section of the object at ``path`` holds one of ``roots``."""
    needles = [r.encode() for r in roots]
    with reading(path), path.open("rb") as f, ElfFile.open(f) as elf:
        for sec in elf.sections:
            if sec.flags & SHF_ALLOC and sec.type != SHT_NOBITS:
                data = elf.data(sec)
                if any(n in data for n in needles):
                    return True
    return False
