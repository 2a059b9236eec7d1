"""The human table of ``report.json``, under 80 columns, with its legend.

Plain text, written without rich: ``spacer report`` only reads a file and prints, and
must start fast."""

from __future__ import annotations

import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import TextIO

from spacer.core.formats.layout import Move, read_moves
from spacer.core.formats.report import Report, read_report

WIDTH = 80
# Row label, field, and what it means (the legend under the table).
ROWS = (("frames saved", "frames_saved",
         "pages deduplication saves (the figure to read)"),
        ("distinct", "distinct", "page contents a host keeps with perfect sharing"),
        ("in 2+ images", "shared", "pages whose content another image has too"),
        ("padding", "padding", "zero or gap-fill pages no app put there"),
        ("total", "total", "pages of all images"))
_BOLD, _PLAIN = "\033[1m", "\033[0m"


def show_report(out_dir: Path, stream: TextIO | None = None) -> None:
    """Print the report under ``out_dir``; the figure to read in bold on a terminal."""
    stream = stream or sys.stdout
    bold = stream.isatty()
    for line in report_lines(out_dir, bold):
        stream.write(line + "\n")


def _table(report: Report, bold: bool) -> list[str]:
    before, after = report.original, report.aligned
    head = f"{'':<14}{'read-only':>20}{'writable':>20}"
    sub = f"{'':<14}" + f"{'original':>11}{'aligned':>9}" * 2
    rule = "-" * len(sub)
    lines = [f"Pages (4 KiB) of {before.images} images", head, sub, rule]
    for label, key, _ in ROWS:
        cells = [getattr(getattr(side, part), key)
                 for part in ("readonly", "writable") for side in (before, after)]
        row = f"{label:<14}" + "".join(f"{c:>{w}}" for c, w in zip(cells, (11, 9, 11, 9),
                                                                     strict=True))
        if key == "frames_saved":  # the one figure that matters stands out
            lines += [f"{_BOLD}{row}{_PLAIN}" if bold else row, rule]
        else:
            lines.append(row)
    return lines + [rule]


def report_lines(out_dir: Path, bold: bool = False) -> list[str]:
    """The table, its legend, and what else the report says, as lines."""
    report = read_report(Path(out_dir) / "report.json")
    before, after = report.original, report.aligned
    lines = _table(report, bold)
    lines += [f"  {label + ':':<14}{meaning}" for label, _, meaning in ROWS]
    sizes = report.apps.values()
    grown = (after.readonly.total + after.writable.total
             - before.readonly.total - before.writable.total)
    text = [f"image bytes, all apps: {sum(a.original_bytes for a in sizes):,} original, "
            f"{sum(a.aligned_bytes for a in sizes):,} aligned",
            f"  aligned images are larger ({grown:+,} pages): each shared library has a "
            "page-aligned slot of its own, and the gaps are padding"]
    quality = "" if report.quality is None else f"; aligned distinct {report.quality:.2f}x"
    text.append(f"read-only lower bound: {report.packed_bound} pages{quality}")
    libs = report.shared_libraries
    text += [f"{libs.libraries} shared library variants, pages in all holders: "
             f"{libs.identical_pages} alike, {libs.differing_pages} differ",
             f"extra copies of differing pages: {libs.extra_copies}"]
    culprits = Counter(s for page in report.differing_pages for s in page.symbols)
    if culprits:
        names = ", ".join(f"{s} ({n})" for s, n in culprits.most_common(4))
        text.append(f"differing pages, by the symbol whose address differs: {names}")
    layout_file = Path(out_dir) / "layout.json"
    text += move_lines(read_moves(layout_file) if layout_file.is_file() else [])
    refs = report.references
    direct = sum(refs.direct_by_type.values())
    text.append(f"references that leave a library: {refs.through_tables} through its "
                f"table, {direct} direct")
    if direct:
        kinds = ", ".join(f"{t.removeprefix('R_X86_64_')}: {n}"
                          for t, n in refs.direct_by_type.items())
        text.append(f"  direct, by relocation type (R_X86_64_): {kinds}")
    layouts = report.aslr_layouts
    if layouts:
        text += [f"ASLR (seed {layouts.seed}): {layouts.distinct_layouts} distinct layouts "
                 f"for {layouts.apps} images, {layouts.unique_layout_apps} of them unique",
                 f"placement entropy per image: {layouts.entropy_bits_min:.1f} to "
                 f"{layouts.entropy_bits_max:.1f} bits"]
        text += [f"stays in place in every image: {lib}, {why}"
                 for lib, why in layouts.pinned.items()]
    for line in text:  # long lines wrap under 80 columns, continued indented
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        lines += textwrap.wrap(line, WIDTH, subsequent_indent=indent,
                               break_on_hyphens=False)
    return [*lines, f"{Path(out_dir) / 'report.json'}, manifest.json"]


def move_lines(moves: list[Move]) -> list[str]:
    """One line per library, reason and set of apps relinked: kinds moved for the same
    reason join, and no move's relinks hide behind another's."""
    merged: dict[tuple, dict] = {}
    for move in moves:
        entry = merged.setdefault((move.unit, move.why, tuple(move.apps)),
                                  {"kinds": [], "lost": 0})
        entry["kinds"].append(move.kind)
        entry["lost"] += move.pages_lost
    lines = []
    for (unit, why, apps), move in merged.items():
        # A few names and a count: a library with many holders stays one short line.
        named = ", ".join(apps[:4]) + (f" and {len(apps) - 4} more" if len(apps) > 4 else "")
        lines.append(f"moved {unit} ({', '.join(move['kinds'])}): {why}; relinks "
                     f"{named or 'no existing app'}; {move['lost']} read-only pages of "
                     "sharing lost against a fresh plan")
    return lines
