"""Stage ``symbols``, per app: every reference that leaves a library, from relocations.

For each object the image links (spacer's position-independent copy under
``--aslr 1``/``2``, else the build's own), the relocations of its allocated
sections are sorted into:

- references through the library's indirection table (``R_X86_64_PC32`` against
  ``__spacer_got_<lib>``): the table's entries, each with who defines the symbol;
- direct references to a symbol the object does not define: the relocation type,
  how many, and who defines the target in this image: another object (by name and
  variant digest), or nobody (a symbol of the linker script, or an undefined weak).

Whether such a target sits at the same address in every image that holds the
library depends on the whole fleet: the planner (table sizes) and the report
(which direct references make pages differ) read this file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from spacer.core.formats.facts import AppFacts, read_facts
from spacer.core.formats.symbols import AppSymbols, Definer, DirectRef, LibraryRefs, TableEntry
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.readers.objects import read_object, read_relocations
from spacer.core.rewrite.indirect import SLOT

RELOC_NAMES = {1: "R_X86_64_64", 2: "R_X86_64_PC32", 4: "R_X86_64_PLT32",
               9: "R_X86_64_GOTPCREL", 10: "R_X86_64_32", 11: "R_X86_64_32S",
               23: "R_X86_64_TPOFF32", 24: "R_X86_64_PC64", 41: "R_X86_64_GOTPCRELX",
               42: "R_X86_64_REX_GOTPCRELX"}
TLS_TYPES = {19, 20, 21, 22, 23}  # TLSGD, TLSLD, DTPOFF32, GOTTPOFF, TPOFF32: the TLS block


def type_name(rtype: int) -> str:
    return RELOC_NAMES.get(rtype, f"type {rtype}")


def app_symbols(facts: AppFacts) -> AppSymbols:
    """References leaving each library of one app (see module doc)."""
    definer: dict[str, Definer] = {}
    for obj in facts.objects:
        for sym in obj.defined:
            definer.setdefault(sym, Definer(obj.name, obj.digest))
    libraries = {}
    for obj in facts.objects:
        elf = read_object(Path(obj.path))
        own = set(elf.defined) | set(elf.local_symbols) | {s.name for s in elf.sections}
        table_symbol = obj.table.symbol if obj.table else None
        via_table: Counter[int] = Counter()
        direct: Counter[tuple[str, int]] = Counter()
        for rel in read_relocations(Path(obj.path)):
            if rel.symbol == table_symbol:
                via_table[(rel.addend + SLOT) // SLOT] += 1  # addends -8..-1 + 8 * slot
            elif rel.symbol not in own and rel.type not in TLS_TYPES:
                direct[(rel.symbol, rel.type)] += 1
        libraries[obj.name] = LibraryRefs(
            digest=obj.digest,
            table=[TableEntry(sym, weak, definer.get(sym))
                   for sym, weak in (obj.table.entries if obj.table else [])],
            through_table=sum(via_table.values()),
            direct=[DirectRef(sym, type_name(rtype), n, definer.get(sym))
                    for (sym, rtype), n in sorted(direct.items())],
        )
    return AppSymbols(facts.app, libraries)


def fleet_direct_references(per_app: list[AppSymbols]) -> Counter[str]:
    """How often each relocation type still reaches out of a library directly, over
    the fleet's distinct library variants (each variant once)."""
    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    for app in per_app:
        for lib in app.libraries.values():
            if lib.digest in seen:
                continue
            seen.add(lib.digest)
            for ref in lib.direct:
                kinds[ref.type] += ref.count
    return kinds


def run_symbols(facts_file: Path, out: Path) -> None:
    """References leaving each library of one app, and its libraries' tables."""
    write_json_atomic(out, app_symbols(read_facts(facts_file)).to_json(), only_if_changed=True)
