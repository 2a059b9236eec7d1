"""``-c``: the two ELF files a guest booted from the pool gets besides the pool file.

- The *loader*: a stub of the bootable (ELF32 multiboot) image that loads none of it.
  QEMU's multiboot loader writes every byte from the lowest to the highest address
  it loads, gaps as zeros, so the stub loads one page of zeros above the image, and
  the image's pages come from the guest RAM's file, the pool.
- The *patch*: the pages where this image's bytes differ from the pool's, as an ELF32
  file that QEMU's generic loader (``-device loader,file=...``) writes over the
  guest's RAM at reset. Those pages become the guest's own copies; the pool file
  never changes.
"""

from __future__ import annotations

import struct
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.readers.elf import PT_LOAD, ElfFile

_EHDR32 = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR32 = struct.Struct("<IIIIIIII")
EM_386 = 3
ET_EXEC = 2
PF_R = 4
PAGE = 0x1000
HEADER_AREA = 8192  # QEMU looks for the multiboot header in the file's first 8 KiB


def stub_image(data: bytes, at: int, path: Path) -> bytes:
    """``data`` (an ELF32 multiboot image) as a stub that loads nothing of the image:
    its first 8 KiB (ELF header, program headers, the multiboot header that QEMU
    scans for), whose one segment is a page of zeros at ``at``, a page that every
    image loads as zeros at its top (or the page above), so QEMU's multiboot loader
    writes nothing but that page, and its information after it. The entry point
    stays: the pool and the patch hold the code it runs."""
    elf = ElfFile(data)
    if elf.elfclass != 32:
        raise BadInput("not an ELF32 multiboot image", path, "pass the bootable image")
    out = bytearray(data[:HEADER_AREA])
    # (ident, type, machine, version, entry, phoff, shoff, flags, ehsize, phentsize,
    # phnum, shentsize, shnum, shstrndx)
    fields = list(_EHDR32.unpack_from(data, 0))
    fields[6], fields[12], fields[13] = 0, 0, 0  # no section table
    fields[10] = 1
    _EHDR32.pack_into(out, 0, *fields)
    if elf.e_phoff + _PHDR32.size * max(elf.e_phnum, 1) > len(out):
        raise BadInput("the program headers lie past the file's first 8 KiB", path,
                       "pass the image that Unikraft's multiboot step wrote")
    _PHDR32.pack_into(out, elf.e_phoff, PT_LOAD, 0, at, at, 0, PAGE, PF_R, PAGE)
    for i in range(1, elf.e_phnum):
        _PHDR32.pack_into(out, elf.e_phoff + i * _PHDR32.size, *([0] * 8))
    return bytes(out)


def patch_elf(pages: dict[int, bytes]) -> bytes:
    """An ELF32 file that loads ``pages`` (page address -> 4 KiB) where they belong: one
    read-only ``PT_LOAD`` per run of consecutive pages, no entry point (QEMU's generic
    loader then leaves the CPU alone)."""
    runs: list[list[int]] = []
    for addr in sorted(pages):
        if runs and runs[-1][-1] + PAGE == addr:
            runs[-1].append(addr)
        else:
            runs.append([addr])
    table = _EHDR32.size + _PHDR32.size * len(runs)
    offset = -(-table // PAGE) * PAGE
    headers, body = bytearray(), bytearray()
    for run in runs:
        size = PAGE * len(run)
        headers += _PHDR32.pack(PT_LOAD, offset + len(body), run[0], run[0], size, size,
                                PF_R, PAGE)
        body += b"".join(pages[a] for a in run)
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)  # ELF32, little-endian, version 1
    header = _EHDR32.pack(ident, ET_EXEC, EM_386, 1, 0, _EHDR32.size, 0, 0, _EHDR32.size,
                          _PHDR32.size, len(runs), 0, 0, 0)
    head = header + bytes(headers)
    return head + bytes(offset - len(head)) + bytes(body)
