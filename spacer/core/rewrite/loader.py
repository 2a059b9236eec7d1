"""``-c``: the two ELF files a guest booted from the pool gets besides the pool file.

- The *loader image*: the bootable (ELF32 multiboot) image without the segments of
  the pool region. QEMU's multiboot loader then writes only the image's own span,
  and the pool's pages, which lie above it, come from the guest RAM's file.
- The *patch*: the pages of the pool region where this image's bytes differ from
  the pool's (a variant most images do not hold), as an ELF32 file that QEMU's
  generic loader (``-device loader,file=...``) writes over the guest's RAM at reset.
  Those pages become the guest's own copies; the pool file never changes.
"""

from __future__ import annotations

import struct
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.readers.elf import PT_LOAD, ElfFile, ProgramHeader

_EHDR32 = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR32 = struct.Struct("<IIIIIIII")
EM_386 = 3
ET_EXEC = 2
PF_R = 4
PAGE = 0x1000


def loader_image(data: bytes, lo: int, hi: int, path: Path) -> bytes:
    """``data`` (an ELF32 image) without its ``PT_LOAD`` segments in ``[lo, hi)``: their
    program headers are left out and the file ends after the last byte a kept segment
    loads. Every other byte is as built. A segment that straddles the region's edge is
    refused: the pool region must hold whole segments."""
    elf = ElfFile(data)
    if elf.elfclass != 32:
        raise BadInput("not an ELF32 multiboot image", path, "pass the bootable image")
    headers = elf.program_headers()
    inside = [h for h in headers if h.type == PT_LOAD and lo <= h.paddr < hi]
    for h in headers:
        if h.type == PT_LOAD and h not in inside and h.paddr < hi and lo < h.paddr + h.memsz:
            raise BadInput(f"a segment at {h.paddr:#x} reaches into the pool region "
                           f"{lo:#x}-{hi:#x}", path, "run spacer align -c --replan")
        if h in inside and h.paddr + h.memsz > hi:
            raise BadInput(f"a segment at {h.paddr:#x} ends past the pool region's end "
                           f"{hi:#x}", path, "run spacer align -c --replan")
    kept = [h for h in headers if h not in inside]
    table_end = elf.e_phoff + elf.e_phentsize * elf.e_phnum
    end = max([table_end, *(h.offset + h.filesz for h in kept if h.filesz)])
    out = bytearray(data[:end])
    # (ident, type, machine, version, entry, phoff, shoff, flags, ehsize, phentsize,
    # phnum, shentsize, shnum, shstrndx)
    fields = list(_EHDR32.unpack_from(data, 0))
    if fields[6] + fields[11] * fields[12] > end:  # a section table cut off goes
        fields[6], fields[12], fields[13] = 0, 0, 0
    fields[10] = len(kept)
    _EHDR32.pack_into(out, 0, *fields)
    for i, h in enumerate(kept):
        _PHDR32.pack_into(out, elf.e_phoff + i * _PHDR32.size, h.type, h.offset, h.vaddr,
                          h.paddr, h.filesz, h.memsz, h.flags, h.align)
    for i in range(len(kept), elf.e_phnum):  # the freed entries read as PT_NULL
        _PHDR32.pack_into(out, elf.e_phoff + i * _PHDR32.size, *([0] * 8))
    return bytes(out)


HEADER_AREA = 8192  # QEMU looks for the multiboot header in the file's first 8 KiB


def stub_image(data: bytes, at: int, path: Path) -> bytes:
    """``data`` (an ELF32 multiboot image) as a stub that loads nothing of the image:
    its first 8 KiB (ELF header, program headers, the multiboot header that QEMU
    scans for), with one empty read-only segment at ``at``, above everything the guest
    needs, so QEMU's multiboot loader writes nothing but that page and its information
    after it. The entry point stays: the pool and the patch hold the code it runs."""
    elf = ElfFile(data)
    if elf.elfclass != 32:
        raise BadInput("not an ELF32 multiboot image", path, "pass the bootable image")
    out = bytearray(data[:HEADER_AREA])
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


def own_span_end(headers: list[ProgramHeader], lo: int) -> int:
    """Where the image's own loaded span ends: the highest byte a segment below the
    pool region ``lo`` loads (QEMU's multiboot loader writes its information after it)."""
    return max((h.paddr + h.memsz for h in headers if h.type == PT_LOAD and h.paddr < lo),
               default=0)


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
