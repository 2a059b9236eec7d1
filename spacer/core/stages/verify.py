"""Stage 5: prove the relinked images follow the plan, and explain the pages that differ.

Per app, :func:`check_app` compares every slot's planned address with where the
linker really put each library's sections (from the link map), and fingerprints
each shared library page by page: the library's own bytes on each 4 KiB page it
touches, as loaded in memory, with the addresses of the symbols its relocations
point at there. Across the fleet, :func:`compare_fleet` compares each library
variant's pages across every pair of images that link that variant, and names the
symbols whose addresses differ on a page that differs: those are what keep the
page from being shared. Indirection tables are not library pages and are not
compared.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.formats.report import DifferingPage, SharedLibraries
from spacer.core.formats.slices import Part, Slice, Slot, read_slice
from spacer.core.formats.verify import LibraryPages, PageFingerprint, VerifyResult
from spacer.core.outputs import paths
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.readers.elf import ElfFile
from spacer.core.readers.mapfile import by_file, read_map
from spacer.core.readers.objects import read_relocations
from spacer.core.sharing.pages import PAGE_SIZE as PAGE
from spacer.core.sharing.pages import loaded_memory

# bss/tbss load as zeros; a TLS template page also holds the image's own TLS data
# by design (one TLS block), so only the kinds below can be compared page by page.
_COMPARED_KINDS = ("text", "rodata", "data")
ABSENT = "absent"  # a library page the image does not load: never equal to anything


def image_symbols(path: Path) -> dict[str, int]:
    """Symbol name -> value from a linked image's ``.symtab``."""
    with Path(path).open("rb") as f, ElfFile.open(f) as elf:
        symtab = elf.section_by_name(".symtab")
        return {s.name: s.value for s in elf.symbols(symtab) if s.name} if symtab else {}


def check_app(piece: Slice, debug_image: Path, link_map: Path) -> VerifyResult:
    """Addresses and per-library page fingerprints of ``piece``'s slots in the image."""
    symbols = image_symbols(debug_image)
    memory, _, _ = loaded_memory(debug_image)
    placed = by_file(read_map(link_map))
    misplaced: list[str] = []
    libraries: dict[str, LibraryPages] = {}
    for kind, area in piece.areas.items():
        for slot in area.slots:
            for part in slot.parts + slot.eh_parts:
                if part.table:  # an indirection table: its symbol marks where it is
                    _check_table(part, slot, symbols, misplaced)
                else:
                    _check_part(part, slot, kind, placed, misplaced)
            if kind not in _COMPARED_KINDS or slot.address is None:
                continue
            for part in slot.parts + slot.eh_parts:
                if part.table:
                    continue
                pages = _library_pages(part, placed, memory, symbols)
                if pages:
                    key = f"{part.lib}/{kind}/{part.digest}"
                    libraries.setdefault(key, LibraryPages([])).pages.extend(pages)
    return VerifyResult(piece.app, misplaced, libraries)


def _check_part(part: Part, slot: Slot, kind: str, placed: dict, misplaced: list[str]) -> None:
    """Record a line when a library's sections are not where the plan put them."""
    sections = [s for s in part.sections if s != "COMMON"]
    found = [p for s in sections if (p := placed.get(part.object, {}).get(s)) is not None]
    if not found:
        if sections and kind not in ("bss", "tbss"):
            misplaced.append(f"{part.lib} {kind}: not in the link map")
        return
    if slot.address is None:  # TLS: the offset inside the TLS block is what matters
        return
    start = min(p.address for p in found)
    expected = slot.address + part.offset
    if start != expected:
        misplaced.append(f"{part.lib} {kind}: at {start:#x}, planned {expected:#x}")


def _check_table(part: Part, slot: Slot, symbols: dict[str, int], misplaced: list[str]) -> None:
    at = symbols.get(part.table.symbol)
    expected = slot.address + part.offset
    if at != expected:
        where = "missing" if at is None else f"at {at:#x}"
        misplaced.append(f"{part.lib} table: {where}, planned {expected:#x}")


def _library_pages(part: Part, placed: dict, memory: dict[int, bytearray],
                   symbols: dict[str, int]) -> list[PageFingerprint]:
    """The library's bytes on each page it touches (clipped to the library's own
    sections), keyed by the page's index from the library's start, so that a library
    that moves by whole pages is still compared with itself."""
    sections = placed.get(part.object, {})
    ranges = sorted((p.address, p.address + p.size) for name in part.sections
                    if (p := sections.get(name)) is not None)
    if not ranges:
        return []
    start = ranges[0][0]
    first = start - start % PAGE
    targets: dict[int, dict[str, int]] = {}
    wanted = set(part.sections)
    for rel in read_relocations(Path(part.object)):
        where = sections.get(rel.section)
        if where is None or rel.section not in wanted:
            continue
        page = (where.address + rel.offset) // PAGE * PAGE
        target = symbols.get(rel.symbol)
        if target is None and rel.symbol in sections:
            target = sections[rel.symbol].address
        targets.setdefault(page, {})[rel.symbol] = -1 if target is None else target
    pages = []
    last = max(hi for _, hi in ranges)
    for vaddr in range(first, last, PAGE):
        digest = hashlib.blake2b(digest_size=16)
        present = True
        for lo, hi in ranges:
            lo, hi = max(lo, vaddr), min(hi, vaddr + PAGE)
            if lo >= hi:
                continue
            page = memory.get(vaddr)
            if page is None:
                present = False
                break
            digest.update(f"{lo - vaddr}:".encode())
            digest.update(page[lo - vaddr:hi - vaddr])
        pages.append(PageFingerprint((vaddr - first) // PAGE, start - first, vaddr,
                                     digest.hexdigest() if present else ABSENT,
                                     targets.get(vaddr, {})))
    return pages


def compare_fleet(checks: list[VerifyResult]) -> tuple[SharedLibraries, list[DifferingPage]]:
    """Each shared library variant's pages compared across every image that links it.

    A page is *identical* when its library bytes are equal in all those images, and
    *differing* otherwise; ``extra_copies`` counts the distinct versions beyond the
    first, the pages sharing loses. Different variants of a library are not
    compared with each other: their bytes differ by content, not by address.
    """
    by_library: dict[str, dict[str, list[PageFingerprint]]] = {}
    for check in checks:
        for key, lib in check.libraries.items():
            by_library.setdefault(key, {})[check.app] = lib.pages
    result = {"identical_pages": 0, "differing_pages": 0, "extra_copies": 0, "libraries": 0}
    differing: list[DifferingPage] = []
    for key, per_app in sorted(by_library.items()):
        if len(per_app) < 2:
            continue
        result["libraries"] += 1
        apps = sorted(per_app)
        positions: dict[tuple[int, int], dict[str, PageFingerprint]] = {}
        for app in apps:
            for page in per_app[app]:
                positions.setdefault((page.index, page.offset), {})[app] = page
        for (index, _), pages in sorted(positions.items()):
            versions = {p.digest for p in pages.values()}
            if len(pages) == len(apps) and len(versions) == 1 and ABSENT not in versions:
                result["identical_pages"] += 1
                continue
            result["differing_pages"] += 1
            result["extra_copies"] += max(1, len(versions)) - 1 + (len(apps) - len(pages))
            seen: dict[str, set[int]] = {}
            for page in pages.values():
                for sym, addr in page.symbols.items():
                    seen.setdefault(sym, set()).add(addr)
            culprits = sorted(sym for sym, addrs in seen.items() if len(addrs) > 1)
            differing.append(DifferingPage(key.rsplit("/", 1)[0], index,
                                           next(iter(pages.values())).vaddr, sorted(pages),
                                           len(versions), culprits))
    return SharedLibraries(**result), differing


def require_placed(check: VerifyResult, debug_image: str) -> None:
    """verify fails loudly when a library is not where the plan put it."""
    if check.misplaced:
        raise BadInput(f"{len(check.misplaced)} slot(s) off plan: "
                       f"{'; '.join(check.misplaced[:3])}", debug_image,
                       "report this layout; rerun with spacer align -v for the commands")


def run_verify(slice_file: Path, image: Path, out: Path) -> None:
    debug = paths.debug_image(image)
    check = check_app(read_slice(slice_file), debug, paths.link_map(image))
    require_placed(check, str(debug))
    write_json_atomic(out, check.to_json())
