"""Stage 3, per app: the platform linker script with every shared slot placed.

The original script is parsed (:mod:`spacer.core.readers.ldparse`) and edited by
splicing text at the offsets found, so every symbol, table and ``INSERT`` target
of the original keeps its meaning. Per kind (see :mod:`spacer.core.readers.placement`):

- the area of an anchor after ``.text`` starts with ``. = BASE;`` placed before the
  assignments that precede the anchor (``_rodata = .``, ``__eh_frame_start = .``,
  ``__bss_start = .`` ...), so those symbols still mark the start of what follows;
- in-section kinds get ``. = OFFSET; file(sections)`` before the anchor's first
  catch-all statement (ld gives a section to the first statement that matches);
- separate kinds get one output section per slot, right before the anchor, with
  the anchor's program header named explicitly (a section without one inherits the
  previous section's, which could be the TLS segment);
- TLS anchors are padded to the fleet's one TLS block size.
"""

from __future__ import annotations

import re
from dataclasses import replace

from spacer.core.errors import BadInput
from spacer.core.formats.slices import Area, Part, Slice, Slot, Table
from spacer.core.readers.ldparse import OutputSection, Script, Statement, parse_script
from spacer.core.readers.placement import TABLE, TLS_KINDS, find_anchors

_PLAIN = re.compile(r"^[A-Za-z0-9_./+\-]+$")


def _quote(name: str) -> str:
    """``name`` as a linker script word: plain, or in double quotes. ld's script syntax
    has no escape for a ``"`` inside a quoted name, so such a path is refused rather
    than changed into another file's name."""
    if _PLAIN.match(name):
        return name
    if '"' in name or "\n" in name:
        raise BadInput("a linker script cannot name this path (it holds a double quote or "
                       "a newline)", name, "rename or move the build folder")
    return f'"{name}"'


def _slug(unit: str) -> str:
    """``libnolibc+2:1a2b3c4d`` -> ``libnolibc_2``: unique in an image, which holds one
    variant of a library and so one unit that starts with it."""
    return re.sub(r"[^A-Za-z0-9_]", "_", unit.partition(":")[0])


def _parts(parts: list[Part]) -> str:
    lines = []
    for part in parts:
        spec = f"{_quote(part.object)}({' '.join(_quote(s) for s in part.sections)})"
        lines.append(f"KEEP({spec})" if part.keep else spec)
    return " ".join(lines)


def _table(table: Table, where: str, phdrs: str) -> str:
    """A library's indirection table as an output section: its symbol, then one
    ``QUAD`` per slot with the address the library's code loads from it
    (:mod:`spacer.core.rewrite.indirect`). A weak reference nobody defines holds 0."""
    name = _slug(table.symbol.removeprefix("__spacer_got_"))
    return f".spacer.got.{name} {where}: {{ {_table_body(table)} }} {phdrs}\n"


def _tables(area: Area, phdrs: str) -> str:
    """The tables of the shared libraries, each at its fixed address."""
    return "".join(_table(p.table, f"{s.address + p.offset:#x} ", phdrs)
                   for s in area.slots for p in s.parts if p.table)


def _table_body(table: Table) -> str:
    quads = " ".join(f"QUAD(DEFINED({_quote(sym)}) ? {_quote(sym)} : 0)" if weak
                     else f"QUAD({_quote(sym)})" for sym, weak in table.entries)
    return f"{_quote(table.symbol)} = .; {quads}"


def _in_section(part: Part) -> str:
    """A part inside its anchor's output section: the library's sections, or (under
    --aslr 2, at the end of the library's data) its table."""
    return _table_body(part.table) if part.table else _parts([part])


def _phdrs(script: Script, anchor: OutputSection) -> str:
    """The anchor's program headers, written out (inherited ones too)."""
    if anchor.phdrs:
        return " ".join(f":{p}" for p in anchor.phdrs)
    last = ""
    for out in script.outputs:
        if out.name == anchor.name:
            return last
        if out.phdrs:
            last = " ".join(f":{p}" for p in out.phdrs)
    return last


def _area_start(script: Script, anchor: OutputSection) -> int:
    """Where ``. = BASE`` goes: before the last ``. = ALIGN(...)`` between the previous
    output section and ``anchor``, so ``_etext = .`` still ends what came before and
    ``_rodata = .`` starts what follows; right before the anchor when there is none."""
    index = script.order.index(anchor)
    while index > 0 and isinstance(script.order[index - 1], Statement):
        index -= 1
        stmt = script.order[index]
        if re.match(r"\.\s*=\s*ALIGN\s*\(", stmt.text):
            return stmt.start
    return anchor.start


_FLAGS = {"rx": 5, "r": 4, "rw": 6}  # PF_R 4, PF_W 2, PF_X 1
PINNED_RODATA = "spacer_pinned_r"  # program header of the pinned blocks' read-only data


def _moving(piece: Slice) -> list[tuple[str, Slot]]:
    """(kind, slot) of every moving chunk's part (``--aslr 2``), in address order."""
    return sorted(((kind, s) for kind, area in piece.areas.items() for s in area.slots
                   if s.segment), key=lambda ks: ks[1].address)


def _segment(s: Slot) -> str:
    """The program header of a moving chunk's part: one per block and permissions."""
    return f"spacer_{_slug(s.unit)}_{s.segment}"


def _pinned_rodata(piece: Slice) -> bool:
    return "rodata" in piece.areas and any(not s.segment for s in piece.areas["rodata"].slots)


def _chunk_region(script: Script, piece: Slice) -> list[tuple[int, str]]:
    """``--aslr 2``: the moving blocks' chunks after the pinned blocks' read-only data,
    one output section per library and kind at the address the aslr stage drew, each
    chunk's code, read-only data and data (with bss) in program headers of their own
    (named after the block, in address order after the text one; the pinned read-only
    data gets one too): the chunks lie between the text and read-only segments, which
    must not cover them. A part that this image's variant lacks (a library with
    read-only data in one app and none in another) gets no program header: ld would
    make it an empty segment at address 0, and QEMU's loader would then load from 0."""
    info = piece.aslr
    moving = [(kind, s) for kind, s in _moving(piece) if s.parts or s.eh_parts]
    if not moving and not _pinned_rodata(piece):
        return []
    sections: list[tuple[int, str, str]] = []
    for kind, s in moving:
        phdr = f":{_segment(s)}" if script.phdrs else ""
        named = [(p, f".{kind}") for p in s.parts] + [(p, ".eh_frame") for p in s.eh_parts]
        for part, name in named:
            at = s.address + part.offset
            if part.table:
                section, body = f".spacer.got.{_slug(part.lib)}", _table_body(part.table)
            else:
                section, body = f"{name}.spacer.{_slug(part.lib)}", _parts([part])
            sections.append((at, f"{section} {at:#x} : {{ {body} }} {phdr}\n", phdr))
    sections.sort(key=lambda line: line[0])
    region = ("/* spacer: moving chunks */\n" + _padded(script, piece, sections)
              + f". = {info.region_base + info.region:#x};\n")
    edits = [(script.output(piece.bases["rodata"].anchor).start, region)]
    if script.phdrs:
        text = script.output(".text")
        text_phdr = _phdrs(script, text).lstrip(":").split() if text else []
        after = script.phdr_ends.get(text_phdr[0] if text_phdr else "", None)
        if after is None:
            raise BadInput("--aslr 2 needs the program header of .text declared in PHDRS",
                           script.path, "use --aslr 1")
        # In address order: the pinned read-only data, then each chunk's parts.
        segments = dict.fromkeys([PINNED_RODATA] if _pinned_rodata(piece) else [])
        segments.update(dict.fromkeys(_segment(s) for _, s in moving))
        flags = {PINNED_RODATA: _FLAGS["r"], **{_segment(s): _FLAGS[s.segment]
                                                for _, s in moving}}
        edits.append((after, "".join(f"\n{seg} PT_LOAD FLAGS({flags[seg]});"
                                     for seg in segments)))
    return edits


def _padded(script: Script, piece: Slice, sections: list[tuple[int, str, str]]) -> str:
    """The region's sections, each segment followed by an empty (NOLOAD) section that
    reaches to the next segment's start (or the region's end), and the gap before the
    first chunk covered by the segment before the region. Unikraft takes memory that no
    segment covers for its heap, and a one-page hole makes its allocator print an
    error; a part smaller than its room (another variant is larger, or has a kind this
    one lacks) would leave such holes inside a chunk too."""
    info = piece.aslr
    end = info.region_base + info.region
    text = script.output(".text")
    before = _phdrs(script, text) if text else ""
    if _pinned_rodata(piece) and script.phdrs:
        before = f":{PINNED_RODATA}"
    out = []
    first = sections[0][0] if sections else end
    if first > info.region_base:
        out.append(f".spacer.pad.{info.region_base:x} {info.region_base:#x} (NOLOAD) : "
                   f"{{ . = {first - info.region_base:#x}; }} {before}\n")
    for i, (_, line, phdr) in enumerate(sections):
        out.append(line)
        following = sections[i + 1] if i + 1 < len(sections) else None
        if following is not None and following[2] == phdr:
            continue  # the segment goes on
        to = following[0] if following is not None else end
        # Placed where the segment's last section ends, which a symbol notes (outside a
        # section "." is an address; inside one it counts from the section's start).
        out.append(f"__spacer_pad_{to:x} = .;\n.spacer.pad.{to:x} (NOLOAD) : "
                   f"{{ . += {to:#x} - __spacer_pad_{to:x}; }} {phdr}\n")
    return "".join(out)


# -c: the pool region's program headers, each over the areas of the kinds it names.
POOL_SEGMENTS = {"spacer_pool_x": (("text",), _FLAGS["rx"]),
                 "spacer_pool_r": (("rodata",), _FLAGS["r"]),
                 "spacer_pool_w": (("data", "bss"), _FLAGS["rw"])}


def _pool_region(script: Script, piece: Slice) -> list[tuple[int, str]]:
    """``-c``: the pool region, first in the script so that its statements take the
    shared libraries' sections before any catch-all does, then ``.`` back where it
    was. Each slot part is an output section at its address, in the program header of
    its kind (code, read-only data, data with bss), declared last so that they come
    last in the file too. Each segment covers its whole part of the region, whatever
    this image holds: a byte at its start, and an empty (NOLOAD) section to its end,
    so no page of the region goes to the image's heap."""
    pool = piece.pool
    starts = [pool.start(kinds[0]) for kinds, _ in POOL_SEGMENTS.values()] + [pool.end]
    out = ["/* spacer: the pool region (-c) */\n__spacer_pool_dot = .;\n"]
    for index, (segment, (kinds, _)) in enumerate(POOL_SEGMENTS.items()):
        phdr = f":{segment}" if script.phdrs else ""
        start, end = starts[index], starts[index + 1]
        lines = []
        for kind in kinds:
            area = piece.areas.get(kind)
            lines += [(s.address + p.offset, f"{name}.spacer.{_slug(p.lib)} "
                       f"{s.address + p.offset:#x} : {{ {_parts([p])} }} {phdr}\n")
                      for s in (area.slots if area else []) if pool.holds(s.address)
                      for name, parts in ((f".{kind}", s.parts), (".eh_frame", s.eh_parts))
                      for p in parts]
        lines.sort(key=lambda line: line[0])
        if not lines or lines[0][0] > start:
            out.append(f".spacer.pool.{segment} {start:#x} : {{ BYTE(0) }} {phdr}\n")
        out.extend(text for _, text in lines)
        out.append(f"__{segment}_end = .;\n.spacer.pool.{segment}.end (NOLOAD) : "
                   f"{{ . += {end:#x} - __{segment}_end; }} {phdr}\n")
    out.append(". = __spacer_pool_dot;\n")
    edits = [(script.sections_start, "\n" + "".join(out))]
    if script.phdrs:
        last = max(script.phdr_ends.values())
        edits.append((last, "".join(f"\n{name} PT_LOAD FLAGS({flags});"
                                    for name, (_, flags) in POOL_SEGMENTS.items())))
    return edits


def _exclude_moving(script: Script, piece: Slice,
                    region: OutputSection) -> list[tuple[int, str]]:
    """ld gives an input section to the first statement that matches it, so the
    catch-alls of the output sections before the region (``*(.text)``) must skip the
    moving libraries' objects: ``EXCLUDE_FILE(...)`` before each that would take one."""
    moving = {(p.object, section) for _, s in _moving(piece)
              for p in s.parts + s.eh_parts if not p.table for section in p.sections}
    edits = []
    for out in script.outputs:
        if out is region:
            break
        for item in out.items:
            spec = item.spec
            objects = sorted({obj for obj, section in moving
                              if spec and spec.matches(obj, section)})
            if not objects:
                continue
            if spec.exclude_files:
                raise BadInput(f"{out.name} already excludes files from a statement that "
                               "would take a moving library's sections", script.path,
                               "use --aslr 1")
            edits.append((spec.file_start,
                          f"EXCLUDE_FILE({' '.join(_quote(o) for o in objects)}) "))
    return edits


def rewrite_script(text: str, path: str, piece: Slice) -> str:
    """The default linker script ``text`` rewritten for the app's plan slice ``piece``."""
    script = parse_script(text, path)
    edits: list[tuple[int, str]] = []  # (offset, text to insert there)
    app = piece.app
    for kind, fixed in piece.bases.items():
        anchor = script.output(fixed.anchor)
        if anchor is not None:
            base = fixed.base
            guard = (f"/* spacer: shared {kind} area */\n"
                     f"ASSERT(. <= {base:#x}, \"spacer: {app} content reaches the shared "
                     f"{kind} area; run spacer align again\")\n"
                     f". = {base:#x};\n")
            edits.append((_area_start(script, anchor), guard))
    tables = piece.areas.get(TABLE)
    for kind, area in piece.areas.items():
        anchor = script.output(area.anchor)
        # Moving chunks (--aslr 2) were written into their region above, the pool's
        # slots (-c) into the pool region below.
        area = replace(area, slots=[s for s in area.slots if not s.segment
                                    and not (piece.pool and piece.pool.holds(s.address))])
        if anchor is None or not area.slots:
            continue
        if kind == TABLE:
            # Else written with the read-only slots (which -c puts in the pool region).
            if "rodata" not in piece.areas or piece.pool:
                edits.append((anchor.start, _tables(area, _phdrs(script, anchor))))
            continue
        # The image's own content starts on a fresh page, not in a slot's last page.
        close = ". = ALIGN(0x1000);\n" if piece.page_align and kind not in TLS_KINDS else ""
        if area.separate:
            # One output section per library (ld merges strings and unwind CIEs only
            # within an output section), at the library's fixed place in the slot.
            phdrs = _phdrs(script, anchor)
            if piece.aslr:  # the pinned blocks' own, before the region of moving chunks
                phdrs = f":{PINNED_RODATA}" if script.phdrs else ""
            lines = [(s.address + p.offset, f"{name}.spacer.{_slug(p.lib)} "
                      f"{s.address + p.offset:#x} : {{ {_parts([p])} }} {phdrs}\n")
                     for s in area.slots
                     for name, parts in ((area.anchor, s.parts), (".eh_frame", s.eh_parts))
                     for p in parts]
            # The tables follow the slots (on a fresh page); the image's own read-only
            # data then fills their last page: both are per image.
            last_table = tables.slots[-1].address if kind == "rodata" and tables else None
            if last_table is not None:
                lines.append((tables.slots[0].address, _tables(tables, phdrs)))
            lines.sort(key=lambda line: line[0])
            ends_in_table = last_table is not None and last_table >= area.slots[-1].address
            tail = "" if area.slots[-1].spoilt or ends_in_table or piece.aslr else close
            edits.append((anchor.start, "".join(text for _, text in lines) + tail))
            continue
        origin = piece.text_area - piece.text_start if kind == "text" else 0
        # Each slot ends on its own page boundary: the fill of its last page must not
        # depend on what the image places next.
        last = area.slots[-1]
        lines = ["".join(f". = {origin + s.offset + p.offset:#x}; {_in_section(p)} "
                         for p in s.parts)
                 + f"{'' if s is last and s.spoilt else close}" for s in area.slots]
        lines.append("\n")
        split = anchor.items[area.split].start if area.split < len(anchor.items) \
            else anchor.body_end
        edits.append((split, "/* spacer: shared slots */\n" + "".join(lines)))
    if piece.pool:
        edits.extend(_pool_region(script, piece))
        # With the shared data in the pool, an image's own .data may be empty: ld then
        # drops the section, and its program header becomes an empty segment at address
        # 0, which QEMU's multiboot loader loads from. One byte keeps it in place.
        anchors = find_anchors(script)
        data = anchors.get("data")
        anchor = script.output(data.output) if data else None
        if anchor is not None:
            edits.append((anchor.body_end, "\n. = ALIGN(8); BYTE(0) /* spacer: keep */\n"))
        # The image's own code from a fresh page, as after a text area: the boot code's
        # page then holds the same bytes in every image that has the same boot code.
        # (Code slots left in the text area start there, and own code fills their end.)
        code = anchors["text"]
        anchor = script.output(code.output)
        split = anchor.items[code.split].start if code.split < len(anchor.items) \
            else anchor.body_end
        if all(piece.pool.holds(s.address)
               for s in (piece.areas["text"].slots if "text" in piece.areas else [])):
            edits.append((split, "/* spacer: own code from a fresh page */ "
                                 ". = ALIGN(0x1000);\n"))
    if piece.aslr:  # after the pinned slots, which go before the same statements
        edits.extend(_chunk_region(script, piece))
        edits.extend(_exclude_moving(script, piece, script.output(piece.bases["rodata"].anchor)))
    if piece.private_tables:
        anchor = script.output(find_anchors(script)["rodata"].output)
        phdrs = _phdrs(script, anchor)
        edits.append((anchor.start, "".join(_table(t, "ALIGN(8) ", phdrs)
                                            for t in piece.private_tables)))
    if piece.tls:
        tls_anchors = {k: script.output(a.output) for k, a in find_anchors(script).items()}
        for kind in TLS_KINDS:
            anchor = tls_anchors.get(kind)
            if anchor is not None:
                total = piece.tls[f"{kind}_total"]
                edits.append((anchor.body_end, f"\n. = {total:#x}; /* spacer: one TLS size */\n"))
    out = text
    # From the end backwards so offsets stay valid; at one offset, first added first.
    for _, (offset, insert) in sorted(enumerate(edits), key=lambda e: (e[1][0], e[0]),
                                      reverse=True):
        out = out[:offset] + insert + out[offset:]
    return out

