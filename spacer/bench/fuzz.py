"""``spacer bench fuzz``: damaged inputs against spacer's readers.

Each generated input is one file of a real demo build (a library object, the debug
image, the bootable image, the platform linker script, the link record or a
post-link record), damaged one way: cut short, bits flipped, an ELF header or table
field set to an odd value, another machine or class, garbage, or for text a token
dropped, doubled or replaced. It is then given, in-process, to the reader that
``spacer align`` would use on it (:mod:`spacer.core.readers.objects`, :mod:`spacer.core.stages.extract`,
:mod:`spacer.core.readers.recipe`, :mod:`spacer.core.readers.ldparse`, :mod:`spacer.core.sharing.pages`).

A reader must either succeed or raise a :class:`~spacer.core.errors.SpacerError`
whose line is one line. Anything else (an ``IndexError`` from deep inside pyelftools,
a ``MemoryError`` from a size field, a hang) is a failure, reported with the seed and
the input's number so that it can be replayed.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import signal
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spacer.core.errors import INTERNAL, SpacerError

KINDS = ("object", "app_object", "debug", "image", "script", "link_cmd", "post_cmd")
PER_INPUT_LIMIT_S = 10.0  # a reader that takes longer on one small file is hanging


@dataclass
class FuzzFailure:
    index: int  # the input's number: ``spacer bench fuzz --seed S --only INDEX`` replays it
    kind: str
    mutation: str
    error: str

    def __str__(self) -> str:
        return f"input {self.index} ({self.kind}, {self.mutation}): {self.error}"


@dataclass
class FuzzResult:
    tried: int = 0
    accepted: int = 0  # the damage left the file readable (e.g. a flipped padding byte)
    refused: int = 0  # one-line SpacerError
    seconds: float = 0.0
    failures: list[FuzzFailure] = field(default_factory=list)
    by_kind: Counter = field(default_factory=Counter)


class _Hang(Exception):
    pass


# --- mutations ----------------------------------------------------------------------

_MACHINES = (0, 3, 8, 40, 62, 183, 243, 0xFFFF)  # EM_NONE, 386, MIPS, ARM, (x86_64), AArch64
_INTERESTING = (0, 1, 2, 3, 7, 0x40, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                1 << 32, 1 << 40, (1 << 63) - 1, 1 << 63, (1 << 64) - 1)


def _elf_tables(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of the ELF header and of every section and program header
    entry of the original file, ELF32 or ELF64, so mutations can aim at them."""
    if data[:4] != b"\x7fELF" or len(data) < 52:
        return [(0, min(len(data), 64))]
    is64 = data[4] == 2
    if is64:
        phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    else:
        phoff, shoff = struct.unpack_from("<II", data, 0x1C)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x2A)
    tables = [(0, 64 if is64 else 52)]
    tables += [(phoff + i * phentsize, phentsize) for i in range(phnum)]
    tables += [(shoff + i * shentsize, shentsize) for i in range(shnum)]
    return [(o, n) for o, n in tables if o + n <= len(data)]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    if rng.random() < 0.5:
        return data[:rng.randrange(0, min(len(data), 4096) + 1)]
    return data[:rng.randrange(0, len(data))]


def _flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _flip_header_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    tables = _elf_tables(data)
    for _ in range(rng.randint(1, 4)):
        offset, length = rng.choice(tables)
        i = offset + rng.randrange(length)
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _odd_field(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    offset, length = rng.choice(_elf_tables(data))
    width = rng.choice((1, 2, 4, 8))
    at = offset + rng.randrange(max(1, length - width + 1))
    value = rng.choice(_INTERESTING) if rng.random() < 0.7 else rng.getrandbits(width * 8)
    out[at:at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(out[:len(data)])


def _wrong_machine(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    if len(out) < 20:
        return bytes(out)
    what = rng.randrange(4)
    if what == 0:
        out[18:20] = rng.choice([m for m in _MACHINES if m != 62]).to_bytes(2, "little")
    elif what == 1:
        out[4] = 3 - out[4] if out[4] in (1, 2) else 1  # ELF32 <-> ELF64
    elif what == 2:
        out[5] = 2  # big-endian
    else:
        out[16:18] = rng.choice((0, 1, 2, 3, 4, 0xFEFF)).to_bytes(2, "little")  # e_type
    return bytes(out)


def _garbage(rng: random.Random, data: bytes) -> bytes:
    body = rng.randbytes(rng.randrange(0, 2048))
    return (b"\x7fELF" + body) if rng.random() < 0.5 else body


def _splice(rng: random.Random, data: bytes) -> bytes:
    """A block of the file copied over another place of it (tables pointing into code)."""
    if len(data) < 16:
        return data
    n = rng.randrange(1, min(256, len(data) // 2))
    src, dst = rng.randrange(len(data) - n), rng.randrange(len(data) - n)
    return data[:dst] + data[src:src + n] + data[dst + n:]


BINARY_MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "truncated": _truncate, "bit-flipped": _flip_bits, "header bits flipped": _flip_header_bits,
    "odd header field": _odd_field, "wrong machine": _wrong_machine, "garbage": _garbage,
    "spliced": _splice,
}

_TEXT_NOISE = ("{", "}", "(", ")", ";", ":", "=", ",", '"', "'", "/*", "*/", "\\", "&&", "||",
               "|", ">", "<", "2>&1", "$(", "`", "{ ", " }", "\0", "\xff", "\n", "SECTIONS",
               "PHDRS", "INSERT", "AFTER", "KEEP", "EXCLUDE_FILE", "ASSERT", "PROVIDE", "*",
               "-o", "-dT", "-T", "-Wl,", "-Wl,-T,", "-Xlinker", ".o", ".dbg", "gcc", "\"\"",
               "/", "..", ".text", ":text", "AT>", ">region", "NOLOAD")


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"(\s+|[{}();,:=\"'])", text) if t]


def _text_edit(rng: random.Random, data: bytes) -> bytes:
    toks = _tokens(data.decode(errors="replace"))
    if not toks:
        return data
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(toks))
        op = rng.randrange(4)
        if op == 0:
            del toks[i]
        elif op == 1:
            toks.insert(i, toks[rng.randrange(len(toks))])
        elif op == 2:
            toks[i] = rng.choice(_TEXT_NOISE)
        else:
            toks.insert(i, rng.choice(_TEXT_NOISE))
        if not toks:
            break
    return "".join(toks).encode(errors="surrogateescape")


def _text_garbage(rng: random.Random, data: bytes) -> bytes:
    if rng.random() < 0.5:
        return "".join(rng.choice(_TEXT_NOISE) + rng.choice(("", " ")) for _ in
                       range(rng.randrange(0, 200))).encode()
    return rng.randbytes(rng.randrange(0, 1024))


def _text_drop_span(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randrange(1, 400))
    return data[:a] + data[b:]


TEXT_MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "truncated": _truncate, "bit-flipped": _flip_bits, "tokens edited": _text_edit,
    "garbage": _text_garbage, "span dropped": _text_drop_span,
}


# --- the readers --------------------------------------------------------------------

@dataclass
class Sandbox:
    """A private copy of one demo app's build, in which inputs are damaged one at a time."""

    app_dir: Path
    build: Path
    link_cmd: Path
    post_cmd: Path
    debug: Path
    image: Path
    object: Path  # a library with code, data, TLS and relocations of most kinds
    app_object: Path
    script: Path
    originals: dict[str, bytes]

    @classmethod
    def make(cls, root: Path, app_dir: Path) -> Sandbox:
        dest = root / "apps" / app_dir.name
        shutil.copytree(app_dir, dest, symlinks=True)
        build = dest / "build"
        link_cmd = next(build.glob("*_qemu-x86_64.dbg.cmd"))
        image = link_cmd.with_name(link_cmd.name.removesuffix(".dbg.cmd"))
        paths = {"link_cmd": link_cmd, "post_cmd": image.with_name(image.name + ".cmd"),
                 "debug": image.with_name(image.name + ".dbg"), "image": image,
                 "object": _library(build), "app_object": build / f"app{app_dir.name}.o",
                 "script": build / "libkvmplat" / "link64.lds"}
        box = cls(dest, build, originals={}, **paths)
        box.originals = {k: p.read_bytes() for k, p in paths.items()}
        return box

    def path(self, kind: str) -> Path:
        return getattr(self, kind)

    def restore(self, kind: str) -> None:
        self.path(kind).write_bytes(self.originals[kind])


def _library(build: Path) -> Path:
    """The library object to damage: libukhash (small, with TLS) when the app links it."""
    for name in ("libukhash.o", "libukboot.o"):
        if (build / name).is_file():
            return build / name
    return build / "libnolibc.o"


def _read_object(kind: str) -> Callable[[Sandbox], None]:
    def read(box: Sandbox) -> None:
        from spacer.core.readers.objects import read_relocations
        from spacer.core.readers.placement import find_anchors
        from spacer.core.stages.extract import load_scripts, object_facts

        path = box.path(kind)
        scripts, default = load_scripts([], str(box.script))
        object_facts(path, str(path), scripts, default, find_anchors(scripts[default]))
        read_relocations(path)
    return read


def _read_debug(box: Sandbox) -> None:
    from spacer.core.sharing.pages import image_pages
    from spacer.core.stages.extract import image_sections

    image_sections(box.debug)
    image_pages(box.debug)


def _read_image(box: Sandbox) -> None:
    from spacer.core.sharing.pages import image_pages

    image_pages(box.image)


def _read_script(box: Sandbox) -> None:
    from spacer.core.readers.ldparse import parse_script
    from spacer.core.readers.objects import read_object
    from spacer.core.readers.placement import find_anchors, place_object
    from spacer.core.stages.extract import load_scripts

    parse_script(box.script.read_text(errors="replace"), str(box.script))
    scripts, default = load_scripts([], str(box.script))
    find_anchors(scripts[default])
    place_object(read_object(box.object), str(box.object), scripts)


def _read_cmd(kind: str) -> Callable[[Sandbox], None]:
    def read(box: Sandbox) -> None:
        from spacer.core.readers.recipe import read_link_recipe, split_commands

        split_commands(box.path(kind).read_text(errors="replace"), str(box.path(kind)))
        read_link_recipe(box.link_cmd, box.app_dir)
    return read


READERS: dict[str, Callable[[Sandbox], None]] = {
    "object": _read_object("object"), "app_object": _read_object("app_object"), "debug": _read_debug, "image": _read_image,
    "script": _read_script, "link_cmd": _read_cmd("link_cmd"), "post_cmd": _read_cmd("post_cmd"),
}


def _mutations(kind: str) -> dict[str, Callable[[random.Random, bytes], bytes]]:
    return TEXT_MUTATIONS if kind in ("script", "link_cmd", "post_cmd") else BINARY_MUTATIONS


def generate(seed: int, count: int) -> Iterator[tuple[int, str, str, random.Random]]:
    """``(index, kind, mutation, rng)`` of every input; input ``i`` depends only on
    ``seed`` and ``i``, so one can be replayed alone."""
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        kind = KINDS[index % len(KINDS)]
        mutation = rng.choice(sorted(_mutations(kind)))
        yield index, kind, mutation, rng


def _alarm(_signum: int, _frame: object) -> None:
    raise _Hang


def run_one(box: Sandbox, kind: str, mutation: str,
            rng: random.Random) -> tuple[str, str | None]:
    """Damage one input and give it to its reader: ``("ok" | "refused", None)`` when
    the reader behaved, ``("failed", what went wrong)`` otherwise."""
    path = box.path(kind)
    path.write_bytes(_mutations(kind)[mutation](rng, box.originals[kind]))
    try:
        READERS[kind](box)
        return "ok", None
    except SpacerError as exc:
        line = str(exc)
        if not line.strip() or "\n" in line or "\r" in line:
            return "failed", f"{type(exc).__name__} that is not one line: {line!r}"
        return "refused", None
    except _Hang:
        return "failed", f"no answer within {PER_INPUT_LIMIT_S:g} s"
    except Exception as exc:  # any other exception is what we look for
        from spacer.core.errors import internal_error_line

        return "failed", internal_error_line(exc)
    finally:
        box.restore(kind)


def fuzz(app_dir: Path, seed: int = 0, count: int = 2000, only: int | None = None,
         scratch: Path | None = None) -> FuzzResult:
    """Run ``count`` damaged inputs made from ``app_dir`` (a built demo app's folder,
    ``.../apps/<app>``) against the readers; never touches ``app_dir`` itself."""
    result = FuzzResult()
    with tempfile.TemporaryDirectory(prefix="spacer-fuzz-", dir=scratch) as tmp:
        box = Sandbox.make(Path(tmp), app_dir)
        use_alarm = hasattr(signal, "setitimer")
        previous = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
        start = time.perf_counter()
        try:
            for index, kind, mutation, rng in generate(seed, count):
                if only is not None and index != only:
                    continue
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, PER_INPUT_LIMIT_S)
                try:
                    outcome, error = run_one(box, kind, mutation, rng)
                finally:
                    if use_alarm:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                result.tried += 1
                result.by_kind[kind] += 1
                if outcome == "ok":
                    result.accepted += 1
                elif outcome == "refused":
                    result.refused += 1
                else:
                    result.failures.append(FuzzFailure(index, kind, mutation, error or ""))
        finally:
            if use_alarm:
                signal.signal(signal.SIGALRM, previous)
        result.seconds = time.perf_counter() - start
    return result


# --- the command ---------------------------------------------------------------------



def run(ns: argparse.Namespace) -> int:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    with tempfile.TemporaryDirectory(prefix="spacer-fuzz-ws-") as tmp:
        ws = ns.workspace
        if ws is None:
            from spacer.demo.apps import DEMO_APPS
            from spacer.demo.build import build_fleet

            ws = build_fleet(Path(tmp), [a for a in DEMO_APPS if a.name == ns.app])
        app_dir = Path(ws) / "apps" / ns.app
        if not app_dir.is_dir():
            raise SpacerError("no such built app", app_dir, "build the demo fleet first")
        result = fuzz(app_dir, ns.seed, ns.count, ns.only)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.by_kind.items()))
    out.print(f"{result.tried} inputs in {result.seconds:.1f} s (seed {ns.seed}): "
              f"{result.refused} refused with one line, {result.accepted} still readable, "
              f"{len(result.failures)} failed [{kinds}]", markup=False)
    for failure in result.failures[:50]:
        out.print(f"  {failure}", markup=False)
    return INTERNAL if result.failures else 0
