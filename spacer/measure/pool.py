"""Booting a guest from the pool (``-c``): QEMU options that back the guest's RAM with
the pool file, mapped private (a guest's write copies the page for it alone; the file
never changes), and the checks made before QEMU starts.

QEMU 8.2 and later open a file backend read-only with ``readonly=on,rom=off`` and still
map it private and writable (VM templating). QEMU 7.2 has no such option and opens the
file read-write even with ``share=off``: there the pool file (0444) needs write
permission for QEMU's user (root has it anyway).
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.formats.pool import PoolApp, PoolFacts
from spacer.core.outputs.poolfile import pool_digest
from spacer.measure import qemu
from spacer.measure.ramblocks import POOL_RAM

READ_ONLY_SINCE = (8, 2)  # memory-backend-file readonly=on,rom=off
MIB = 1 << 20


@functools.lru_cache(maxsize=1)
def qemu_version() -> tuple[int, int]:
    """QEMU's version, (major, minor); (0, 0) if it does not say."""
    try:
        out = subprocess.run([qemu.qemu_binary(), "--version"], capture_output=True,
                             text=True, check=False, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    found = re.search(r"version (\d+)\.(\d+)", out)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def pool_app(facts: PoolFacts, app: str, where: Path) -> PoolApp:
    if app not in facts.apps:
        raise BadInput(f"no app {app} in the pool (it holds {', '.join(sorted(facts.apps))})",
                       where, "name one of those, or run spacer align -c with it")
    return facts.apps[app]


def check_pool(facts: PoolFacts, memory_mib: int, where: Path,
               verified: set[str] | None = None) -> None:
    """One line, before QEMU starts, for a pool file that is not the one the fleet was
    built with, or a guest RAM it cannot back. ``verified`` remembers files whose
    digest was checked already (a bench boots many guests from one pool)."""
    path = Path(facts.file)
    if not path.is_file():
        raise BadInput("the pool file is missing", path, "run spacer align -c again")
    size = path.stat().st_size
    if size != facts.size:
        raise BadInput(f"the pool file has {size} bytes, pool.json says {facts.size}", path,
                       "it was changed after spacer wrote it: run spacer align -c again")
    if memory_mib * MIB > facts.size:
        raise BadInput(f"a guest RAM of {memory_mib} MiB is larger than the pool "
                       f"({facts.size // MIB} MiB)", where,
                       f"use at most {facts.size // MIB} MiB, or spacer align -c "
                       f"--pool-memory {memory_mib}")
    if memory_mib * MIB < facts.end:
        raise BadInput(f"a guest RAM of {memory_mib} MiB does not reach the end of the pool "
                       f"region ({facts.end:#x})", where,
                       f"use at least {-(-facts.end // MIB)} MiB")
    if verified is not None and facts.file in verified:
        return
    if pool_digest(path) != facts.digest:
        raise BadInput("the pool file's content is not what pool.json records", path,
                       "it was changed after spacer wrote it: run spacer align -c again")
    if verified is not None:
        verified.add(facts.file)


def pool_options(facts: PoolFacts, app: PoolApp, memory_mib: int) -> tuple[str, ...]:
    """QEMU options that boot ``app``'s loader image from the pool: guest RAM from the
    pool file, private; the app's own pages of the pool region through the generic
    loader. The caller gives ``-m memory_mib`` and ``-kernel app.image``."""
    readonly = ",readonly=on,rom=off" if qemu_version() >= READ_ONLY_SINCE else ""
    backend = (f"memory-backend-file,id={POOL_RAM},size={memory_mib}M,"
               f"mem-path={_value(facts.file)},share=off{readonly}")
    options = ["-object", backend, "-machine", f"memory-backend={POOL_RAM}"]
    if app.patch:
        options += ["-device", f"loader,file={_value(app.patch)}"]
    return tuple(options)


def _value(path: str) -> str:
    """A path as a QEMU option value: a comma is written twice."""
    return path.replace(",", ",,")
