"""Damaged inputs: every reader either reads a damaged file or refuses it with one
line, and ``spacer align`` on a workspace with one damaged file exits with status 2,
one line, and nothing that looks like a finished result.

The longer run is ``spacer bench fuzz --count N --seed S``.
"""

from __future__ import annotations

import random
import shutil
import struct
from pathlib import Path

import pytest

from spacer import cli
from spacer.bench import fuzz as bench_fuzz
from spacer.core.errors import BAD_INPUT

FUZZ_COUNT = 2100
FUZZ_SEED = 20250611


@pytest.mark.slow
def test_readers_read_or_refuse_damaged_inputs(demo_workspace: Path, tmp_path: Path):
    result = bench_fuzz.fuzz(demo_workspace / "apps" / "hashsum", FUZZ_SEED, FUZZ_COUNT,
                             scratch=tmp_path)
    assert not result.failures, "\n".join(map(str, result.failures[:20]))
    assert result.tried == FUZZ_COUNT >= 2000
    assert set(result.by_kind) == set(bench_fuzz.KINDS)
    # The damage is real: most inputs are refused, and the mutations are varied.
    assert result.refused > FUZZ_COUNT // 3 and result.accepted > 0
    assert result.seconds < 120, f"{result.seconds:.0f} s for {FUZZ_COUNT} inputs"
    print(f"\nfuzz: {result.tried} inputs in {result.seconds:.1f} s, "
          f"{result.refused} refused, {result.accepted} read")


def test_inputs_are_replayable():
    first = [(i, k, m, rng.random()) for i, k, m, rng in bench_fuzz.generate(7, 30)]
    again = [(i, k, m, rng.random()) for i, k, m, rng in bench_fuzz.generate(7, 30)]
    assert first == again
    assert len({m for _, _, m, _ in first}) > 3


def test_bench_fuzz_command(demo_workspace: Path, capsys):
    code = cli.main(["bench", "fuzz", "--count", "40", "--seed", "3", "-w",
                     str(demo_workspace)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "40 inputs in" in out and "0 failed" in out


# --- end to end -------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_apps(demo_copy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built workspace of two demo apps; tests copy it before damaging it."""
    return demo_copy(tmp_path_factory.mktemp("fuzz-ws"), ("hello", "hashsum"))


def _set(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _phdr_memsz(data: bytes, value: int) -> bytes:
    """The first program header's ``p_memsz`` set to ``value`` (ELF32, the bootable image)."""
    phoff = struct.unpack_from("<I", data, 0x1C)[0]
    return _set(data, phoff + 0x14, "<I", value)


B = "apps/hello/build/"
DAMAGE = {
    "truncated object": (B + "libnolibc.o", lambda d: d[:len(d) // 3]),
    "bit-flipped object header": (B + "libukboot.o", lambda d: _set(d, 0x28, "<Q", 1 << 40)),
    "wrong-machine object": (B + "libnolibc.o", lambda d: _set(d, 18, "<H", 183)),
    "32-bit object": (B + "apphello.o", lambda d: d[:4] + b"\x01" + d[5:]),
    "truncated debug image": (B + "hello_qemu-x86_64.dbg", lambda d: d[:700]),
    "bootable image claiming 4 GiB": (B + "hello_qemu-x86_64",
                                      lambda d: _phdr_memsz(d, 0xFFFFF000)),
    "wrong-machine debug image": (B + "hello_qemu-x86_64.dbg", lambda d: _set(d, 18, "<H", 40)),
    "garbage bootable image": (B + "hello_qemu-x86_64",
                               lambda d: b"\x7fELF" + random.Random(1).randbytes(3000)),
    "garbage linker script": (B + "libkvmplat/link64.lds",
                              lambda d: b"SECTIONS { .text : { *(.text) " + bytes(range(256))),
    "linker script cut short": (B + "libkvmplat/link64.lds", lambda d: d[:len(d) // 2]),
    "garbage link record": (B + "hello_qemu-x86_64.dbg.cmd", lambda d: b'""gcc -o "x\n'),
    "link record with a redirection": (B + "hello_qemu-x86_64.dbg.cmd",
                                       lambda d: d.strip() + b" > log\n"),
    "garbage post-link record": (B + "hello_qemu-x86_64.cmd", lambda d: b"strip ; && (\n"),
}


def _finished_outputs(out: Path) -> list[Path]:
    """What a reader could take for a result: reports, manifests, aligned images."""
    return [p for p in (out / "report.json", out / "manifest.json") if p.exists()] + \
        [p for p in out.glob("apps/*/*_qemu-x86_64*") if not p.name.endswith(".lds")]


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_align_refuses_a_damaged_file(two_apps: Path, tmp_path: Path, capsys, case: str):
    ws = tmp_path / "ws"
    shutil.copytree(two_apps, ws, symlinks=True)
    name, damage = DAMAGE[case]
    path = ws / name
    path.write_bytes(damage(path.read_bytes()))
    out = tmp_path / "out"
    code = cli.main(["align", "-w", str(ws), "-o", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == BAD_INPUT, err
    spacer_lines = [ln for ln in lines if ln.startswith("spacer:")]
    assert len(spacer_lines) == 1 and lines[-1] == spacer_lines[0], err
    assert _finished_outputs(out) == []


def test_damage_after_a_good_run_leaves_nothing_newer(two_apps: Path, tmp_path: Path, capsys):
    """A damaged debug image after a finished align: the run fails, and the earlier
    report, manifest and images are left as they were (older than the damage)."""
    ws = tmp_path / "ws"
    shutil.copytree(two_apps, ws, symlinks=True)
    out = tmp_path / "out"
    assert cli.main(["align", "-w", str(ws), "-o", str(out)]) == 0
    before = {p: p.stat().st_mtime_ns for p in _finished_outputs(out)}
    assert len(before) >= 2 + 2 * 3
    obj = ws / B / "hello_qemu-x86_64.dbg"
    obj.write_bytes(obj.read_bytes()[:5000])
    capsys.readouterr()
    assert cli.main(["align", "-w", str(ws), "-o", str(out)]) == BAD_INPUT
    assert "hello_qemu-x86_64.dbg" in capsys.readouterr().err
    damaged_at = obj.stat().st_mtime_ns
    for p in _finished_outputs(out):
        assert p.stat().st_mtime_ns == before.get(p, damaged_at + 1) < damaged_at, p
