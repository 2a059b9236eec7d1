"""Static page analysis: what perfect page-level deduplication could reach.

Each image is modelled as the guest sees it after loading: every ``PT_LOAD``
segment (ELF "Program Header", ``p_vaddr``/``p_filesz``/``p_memsz``) is placed
into a sparse map of 4 KiB virtual pages, file bytes first and zeros up to
``p_memsz``. Two segments that touch the same page share it, as they would in
guest memory. One :class:`Page` is emitted per touched page.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.readers.elf import PF_W, PF_X, PT_LOAD, ElfFile

PAGE_SIZE = 4096
# A loaded unikernel larger than this is taken for a damaged size field, not an
# image to deduplicate (its pages are cut and hashed one by one).
MAX_LOADED = 256 << 20
ZERO_DIGEST = hashlib.blake2b(bytes(PAGE_SIZE), digest_size=16).digest()
_ZERO_PAGE = bytes(PAGE_SIZE)  # shared by the pages only zero fill touches, copied on write


@dataclass(frozen=True)
class Page:
    """One 4 KiB virtual page of a loaded image."""

    vaddr: int
    writable: bool
    digest: bytes  # blake2b-128 of the page's 4096 bytes
    zero: bool
    padding: bool = False  # all zero, or code-gap fill (see :func:`is_fill`)


FILL_PERIOD = 16  # longest repeated unit of a linker's fill (x86 NOPs are up to 15 bytes)


def is_fill(page: bytes | bytearray) -> bool:
    """A page that is one short pattern over and over: how ld fills the gaps it leaves
    in code (``. = ADDR`` inside ``.text``), with NOP sequences (x86: ``66 2e 0f 1f 84
    00 ...``); in data it fills with zeros."""
    view = memoryview(page)
    return any(view[p:] == view[:-p] for p in range(1, FILL_PERIOD + 1))


def page_digest(data: bytes | bytearray) -> bytes:
    """The digest :class:`Page` uses: blake2b-128 of the page's bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()




def loaded_memory(path: Path) -> tuple[dict[int, bytearray], dict[int, bool], dict[int, bool]]:
    """The image as the guest sees it after loading: page base -> 4096 bytes, and
    whether a writable (an executable) segment touches the page. Every ``PT_LOAD``
    segment is copied to its ``p_vaddr``, zeros up to ``p_memsz``. Works for ELF32
    (multiboot images) and ELF64 (debug images) alike."""
    path = Path(path)
    pages: dict[int, bytearray] = {}
    writable: dict[int, bool] = {}
    executable: dict[int, bool] = {}
    loaded = 0
    try:
        with path.open("rb") as f, ElfFile.open(f) as elf:
            end = elf.size
            for seg in elf.program_headers():
                if seg.type != PT_LOAD or seg.memsz == 0:
                    continue
                vaddr, filesz, memsz = seg.vaddr, seg.filesz, seg.memsz
                loaded += memsz
                if filesz > memsz:
                    raise BadInput(f"segment at {vaddr:#x} has {filesz:#x} bytes in the file "
                                   f"but {memsz:#x} in memory", path,
                                   "the image is damaged; rebuild it")
                if loaded > MAX_LOADED:
                    raise BadInput(f"segments load {loaded:#x} bytes, more than spacer handles "
                                   f"({MAX_LOADED >> 20} MiB)", path,
                                   "a damaged size field? rebuild the image")
                if seg.offset + filesz > end:
                    raise BadInput(f"segment at {vaddr:#x} is cut short", path,
                                   "the file is truncated; rebuild it")
                data = elf.segment_data(seg)
                # Zeros up to p_memsz are part of the image as the guest sees it (bss).
                is_w = bool(seg.flags & PF_W)
                _place(pages, writable, vaddr, data, is_w)
                _place(pages, writable, vaddr + filesz, b"", is_w, zeros=memsz - filesz)
                if seg.flags & PF_X:
                    _place(pages, executable, vaddr, b"", True, span=memsz)
    except FileNotFoundError:
        raise BadInput("no such image", path) from None
    except BadInput as exc:
        if exc.path is not None:
            raise
        raise BadInput(f"not a readable ELF file: {exc.what}", path, exc.hint) from None
    except (ValueError, OverflowError, OSError) as exc:
        raise BadInput(f"not a readable ELF file: {exc}", path) from None
    return pages, writable, executable


def image_pages(path: Path) -> list[Page]:
    """Cut every PT_LOAD segment of the ELF image at ``path`` into 4 KiB pages."""
    pages, writable, executable = loaded_memory(path)
    out = []
    for base in sorted(pages):
        digest = ZERO_DIGEST if pages[base] is _ZERO_PAGE else page_digest(pages[base])
        zero = digest == ZERO_DIGEST
        fill = zero or (executable.get(base, False) and is_fill(pages[base]))
        out.append(Page(base, writable[base], digest, zero, fill))
    return out


def _place(pages: dict[int, bytearray | bytes], flags: dict[int, bool], vaddr: int,
           data: bytes, flag: bool, span: int | None = None, zeros: int = 0) -> None:
    """Copy ``data`` to ``vaddr`` in the sparse page map, page by page, and or ``flag``
    into the pages' ``flags``. With ``span``, only mark ``span`` bytes' pages; with
    ``zeros``, write that many zero bytes (pages that only zeros touch share one
    read-only zero page)."""
    pos, length = 0, len(data) if span is None else span
    if zeros:
        length = zeros
    while pos < length:
        addr = vaddr + pos
        base = addr - addr % PAGE_SIZE
        off = addr - base
        n = min(PAGE_SIZE - off, length - pos)
        if span is None:
            page = pages.get(base)
            if page is None:
                page = pages[base] = _ZERO_PAGE if zeros else bytearray(PAGE_SIZE)
            elif page is _ZERO_PAGE and not zeros:
                page = pages[base] = bytearray(PAGE_SIZE)
            if not zeros:
                page[off:off + n] = data[pos:pos + n]
            elif page is not _ZERO_PAGE:
                page[off:off + n] = bytes(n)
        flags[base] = flags.get(base, False) or flag
        pos += n


@dataclass
class PageCounts:
    """Page figures for one protection class (read-only or writable) of a set of images."""

    total: int = 0
    distinct: int = 0
    zero: int = 0  # all-zero pages: padding and bss
    padding: int = 0  # zero pages and code-gap fill: content no app put there
    shared: int = 0  # pages whose content occurs in at least two images
    # Pages deduplication saves among the others: (total - padding) minus their
    # distinct contents. Padding is left out: a layout that only adds padding would
    # otherwise look like a saving.
    frames_saved: int = 0


@dataclass
class PageStats:
    """Static sharing of a set of images; ``dataclasses.asdict`` gives its JSON."""

    images: int = 0
    readonly: PageCounts = field(default_factory=PageCounts)
    writable: PageCounts = field(default_factory=PageCounts)


def _counts(per_image: list[list[Page]]) -> PageCounts:
    total = sum(len(pages) for pages in per_image)
    occurrences = Counter(p.digest for pages in per_image for p in pages)
    # In how many different images a content occurs (not how often).
    in_images = Counter(d for pages in per_image for d in {p.digest for p in pages})
    content = [p for pages in per_image for p in pages if not p.padding]
    return PageCounts(
        total=total,
        distinct=len(occurrences),
        zero=occurrences.get(ZERO_DIGEST, 0),
        padding=total - len(content),
        shared=sum(1 for pages in per_image for p in pages if in_images[p.digest] >= 2),
        frames_saved=len(content) - len({p.digest for p in content}),
    )


def fleet_page_stats(images: list[Path]) -> PageStats:
    """Count pages of ``images``: total, distinct, zero and shared, read-only and writable apart."""
    return page_stats([image_pages(Path(img)) for img in images])


def page_stats(loaded: list[list[Page]]) -> PageStats:
    """:func:`fleet_page_stats` of images already cut into pages (one list per image)."""
    ro = [[p for p in pages if not p.writable] for pages in loaded]
    rw = [[p for p in pages if p.writable] for pages in loaded]
    return PageStats(images=len(loaded), readonly=_counts(ro), writable=_counts(rw))
