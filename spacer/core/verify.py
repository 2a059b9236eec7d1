"""Stage 5: prove the relinked images follow the plan, and explain the pages that differ.

Per app, :func:`check_app` compares every slot's planned address with where the
linker really put the library's sections (from the link map) and fingerprints
each page of each slot as loaded in memory, with the addresses of the symbols its
relocations point at. Across the fleet, :func:`compare_fleet` finds the pages of a
shared slot whose contents differ between images and names the symbols whose
addresses differ there: those are what keep the page from being shared.
"""

from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile

from spacer.core.errors import BadInput
from spacer.core.mapfile import by_file, read_map
from spacer.core.objects import read_relocations
from spacer.core.pages import PAGE_SIZE as PAGE
from spacer.core.pages import image_pages

# bss/tbss load as zeros; a TLS template page also holds the image's own TLS data
# by design (one TLS block), so only the kinds below can be compared page by page.
_COMPARED_KINDS = ("text", "rodata", "data")


def image_symbols(path: Path) -> dict[str, int]:
    """Symbol name -> value from a linked image's ``.symtab``."""
    with Path(path).open("rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name} if symtab else {}


def check_app(piece: dict, debug_image: Path, link_map: Path) -> dict:
    """Addresses and page fingerprints of ``piece``'s slots in the relinked image."""
    symbols = image_symbols(debug_image)
    pages = {p.vaddr: p.digest.hex() for p in image_pages(debug_image)}
    placed = by_file(read_map(link_map))
    misplaced: list[str] = []
    slots: dict[str, dict] = {}
    for kind, area in piece["areas"].items():
        for slot in area["slots"]:
            parts = slot["parts"] + slot.get("eh_parts", [])
            for part in parts:
                _check_part(part, slot, kind, placed, misplaced)
            if kind not in _COMPARED_KINDS or slot["address"] is None:
                continue
            # Pages are compared between images that link the same variants.
            key = f"{slot['unit']}/{kind}/" + "+".join(p["digest"][:8] for p in parts)
            slots[key] = {"pages": _fingerprints(pages, symbols, slot, placed)}
    return {"app": piece["app"], "misplaced": misplaced, "slots": slots}


def _check_part(part: dict, slot: dict, kind: str, placed: dict, misplaced: list[str]) -> None:
    """Record a line when a library's sections are not where the plan put them."""
    sections = [s for s in part["sections"] if s != "COMMON"]
    found = [p for s in sections if (p := placed.get(part["object"], {}).get(s)) is not None]
    if not found:
        if sections and kind not in ("bss", "tbss"):
            misplaced.append(f"{part['lib']} {kind}: not in the link map")
        return
    if slot["address"] is None:  # TLS: the offset inside the TLS block is what matters
        return
    start = min(p.address for p in found)
    expected = slot["address"] + part["offset"]
    if start != expected:
        misplaced.append(f"{part['lib']} {kind}: at {start:#x}, planned {expected:#x}")


def _fingerprints(digests: dict[int, str], image_symbols: dict[str, int], slot: dict,
                  placed: dict) -> list[dict]:
    symbols: dict[int, dict[str, int]] = {}
    for part in slot["parts"] + slot.get("eh_parts", []):
        sections = placed.get(part["object"], {})
        for rel in read_relocations(Path(part["object"])):
            where = sections.get(rel.section)
            if where is None:
                continue
            page = (where.address + rel.offset) // PAGE * PAGE
            target = image_symbols.get(rel.symbol)
            if target is None and rel.symbol in sections:
                target = sections[rel.symbol].address
            symbols.setdefault(page, {})[rel.symbol] = -1 if target is None else target
    pages = []
    first = slot["address"] // PAGE * PAGE
    for vaddr in range(first, slot["address"] + slot["size"], PAGE):
        pages.append({"vaddr": vaddr, "digest": digests.get(vaddr, "absent"),
                       "symbols": symbols.get(vaddr, {})})
    return pages


def compare_fleet(checks: list[dict]) -> dict:
    """Per shared slot: pages identical in every image holding it, and those that differ."""
    by_slot: dict[str, dict[str, list[dict]]] = {}
    for check in checks:
        for key, slot in check["slots"].items():
            by_slot.setdefault(key, {})[check["app"]] = slot["pages"]
    result = {"identical_pages": 0, "differing_pages": 0, "differing": []}
    for key, per_app in sorted(by_slot.items()):
        if len(per_app) < 2:
            continue
        apps = sorted(per_app)
        for index, page in enumerate(per_app[apps[0]]):
            digests = {per_app[a][index]["digest"] for a in apps if index < len(per_app[a])}
            if len(digests) == 1:
                result["identical_pages"] += 1
                continue
            result["differing_pages"] += 1
            culprits = sorted({sym for a in apps[1:] for sym, addr in
                               per_app[a][index]["symbols"].items()
                               if page["symbols"].get(sym, addr) != addr})
            result["differing"].append({"slot": key, "vaddr": page["vaddr"], "apps": apps,
                                        "symbols": culprits})
    return result


def require_placed(check: dict, debug_image: str) -> None:
    """verify fails loudly when a library is not where the plan put it."""
    if check["misplaced"]:
        raise BadInput(f"{len(check['misplaced'])} slot(s) off plan: "
                       f"{'; '.join(check['misplaced'][:3])}", debug_image,
                       "report this layout; rerun with spacer align -v for the commands")
