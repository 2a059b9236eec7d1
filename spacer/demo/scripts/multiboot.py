#!/usr/bin/env python3
"""Rewrite an ELF64 x86-64 image in place as the ELF32 image QEMU's multiboot
loader accepts (QEMU refuses ELF64 kernels for ``-kernel``).

The segments keep their file offsets; only the ELF header and the program
header table are rewritten in 32-bit form (they are smaller, so they fit in
the space of the 64-bit ones). Section headers are dropped and the file is cut
after the last segment. Running it on an image already converted does nothing.
Standalone on purpose: it is recorded in a .cmd file and run as a script.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
from pathlib import Path

ELFCLASS32, ELFCLASS64 = 1, 2
EM_386 = 3
EHDR64 = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR64 = struct.Struct("<IIQQQQQQ")
EHDR32 = struct.Struct("<16sHHIIIIIHHHHHH")
PHDR32 = struct.Struct("<IIIIIIII")


def convert(image: bytes) -> bytes:
    """Return the ELF32 form of an ELF64 executable (or ``image`` if already ELF32)."""
    if image[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    if image[4] == ELFCLASS32:
        return image
    if image[4] != ELFCLASS64:
        raise ValueError("unknown ELF class")
    (ident, e_type, _machine, e_version, e_entry, e_phoff, _shoff, e_flags,
     _ehsize, e_phentsize, e_phnum, _shentsize, _shnum, _shstrndx) = EHDR64.unpack_from(image)
    phdrs = [PHDR64.unpack_from(image, e_phoff + i * e_phentsize) for i in range(e_phnum)]
    body = bytearray(image)

    end = max((off + filesz for _t, _f, off, _v, _p, filesz, _m, _a in phdrs), default=0)
    first = min((off for _t, _f, off, _v, _p, filesz, _m, _a in phdrs if filesz), default=end)
    new_phoff = EHDR32.size
    if new_phoff + e_phnum * PHDR32.size > first or e_entry > 0xFFFFFFFF:
        raise ValueError("image does not fit an ELF32 header")

    # The old headers' bytes are cleared so no stale 64-bit data remains.
    old_end = e_phoff + e_phnum * e_phentsize
    body[: max(old_end, EHDR64.size)] = bytes(max(old_end, EHDR64.size))
    ident32 = bytes([*ident[:4], ELFCLASS32, *ident[5:]])
    body[: EHDR32.size] = EHDR32.pack(ident32, e_type, EM_386, e_version, e_entry, new_phoff,
                                      0, e_flags, EHDR32.size, PHDR32.size, e_phnum, 0, 0, 0)
    for i, (p_type, p_flags, off, vaddr, paddr, filesz, memsz, align) in enumerate(phdrs):
        if max(off, vaddr, paddr, filesz, memsz, align) > 0xFFFFFFFF:
            raise ValueError("segment beyond 4 GiB")
        PHDR32.pack_into(body, new_phoff + i * PHDR32.size,
                         p_type, off, vaddr, paddr, filesz, memsz, p_flags, align)
    return bytes(body[:end])


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {Path(argv[0]).name} IMAGE", file=sys.stderr)
        return 2
    path = Path(argv[1])
    try:
        data = convert(path.read_bytes())
    except (OSError, ValueError, struct.error) as err:
        print(f"{path}: {err}", file=sys.stderr)
        return 1
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
