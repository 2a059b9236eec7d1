"""The pool file: guest RAM as a sparse file that holds the pool region's pages at
their guest-physical addresses. Running guests map it, so it is never changed in
place: a pool with other content is a new file, named after its digest."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

PAGE = 0x1000
READ_ONLY = 0o444


def pool_digest(path: Path) -> str:
    """sha256 of the file's size and of each non-zero page with its index: a function
    of what a guest reads from it, computed from the file's data extents alone
    (``SEEK_DATA``), so a large sparse file costs what it holds."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        digest.update(size.to_bytes(8, "little"))
        offset = 0
        while offset < size:
            try:
                start = os.lseek(f.fileno(), offset, os.SEEK_DATA)
                end = os.lseek(f.fileno(), start, os.SEEK_HOLE)
            except OSError:  # no data past offset
                break
            start -= start % PAGE
            f.seek(start)
            for at in range(start, end, PAGE):
                page = f.read(PAGE)
                if page.strip(b"\0"):
                    digest.update((at // PAGE).to_bytes(8, "little") + page)
            offset = max(end, start + PAGE)
    return digest.hexdigest()


def write_pool_file(folder: Path, size: int, pages: dict[int, bytes]) -> tuple[Path, str]:
    """The pool file of ``size`` bytes holding ``pages`` (address -> 4 KiB), read-only,
    as ``folder/pool-<digest>.img``; a file of that name is already this content, and
    is left alone. Written to a temporary name first, then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pool.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.truncate(size)
            for addr in sorted(pages):
                f.seek(addr)
                f.write(pages[addr])
        digest = pool_digest(Path(tmp))
        final = folder / f"pool-{digest[:16]}.img"
        if final.is_file() and pool_digest(final) == digest:
            Path(tmp).unlink()
            return final, digest
        os.chmod(tmp, READ_ONLY)
        os.replace(tmp, final)
        return final, digest
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
