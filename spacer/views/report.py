"""The human table of ``report.json``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spacer.core.formats.layout import Move, read_layout
from spacer.core.formats.report import read_report

# Row label, field, and what it means (the legend under the table).
ROWS = (("frames saved", "frames_saved",
         "pages deduplication saves (the figure to read)"),
        ("distinct", "distinct", "page contents a host keeps with perfect sharing"),
        ("in 2+ images", "shared", "pages whose content another image has too"),
        ("padding", "padding", "zero or gap-fill pages no app put there"),
        ("total", "total", "pages of all images"))


def show_report(out_dir: Path, console: Console | None = None) -> None:
    console = console or Console()
    report = read_report(Path(out_dir) / "report.json")
    before, after = report.original, report.aligned
    table = Table(title=f"Pages (4 KiB) of {before.images} images", title_justify="left")
    table.add_column("", no_wrap=True)
    for part in ("read-only", "writable"):
        table.add_column(f"{part}\noriginal", justify="right", no_wrap=True)
        table.add_column(f"{part}\naligned", justify="right", no_wrap=True)
    for label, key, _ in ROWS:
        cells = [str(getattr(getattr(side, part), key))
                 for part in ("readonly", "writable") for side in (before, after)]
        if key == "frames_saved":  # the one figure that matters stands out
            table.add_row(f"[bold]{label}[/]", *(f"[bold]{c}[/]" for c in cells))
            table.add_section()
        else:
            table.add_row(label, *cells)
    console.print(table)
    # Each line under 80 columns: rich wraps at 80 when the output is piped.
    for label, _, meaning in ROWS:
        console.print(f"  {label + ':':<14}{meaning}", markup=False)
    sizes = report.apps.values()
    grown = (after.readonly.total + after.writable.total
             - before.readonly.total - before.writable.total)
    console.print(f"image bytes, all apps: {sum(a.original_bytes for a in sizes):,} original, "
                  f"{sum(a.aligned_bytes for a in sizes):,} aligned", markup=False)
    console.print(f"  aligned images are larger ({grown:+,} pages): each shared library "
                  "has a\n  page-aligned slot of its own, and the gaps are padding",
                  markup=False)
    quality = "" if report.quality is None else f"; aligned distinct {report.quality:.2f}x"
    console.print(f"read-only lower bound: {report.packed_bound} pages{quality}",
                  markup=False)
    libs = report.shared_libraries
    console.print(f"{libs.libraries} shared library variants, pages in all holders: "
                  f"{libs.identical_pages} alike, {libs.differing_pages} differ",
                  markup=False)
    console.print(f"extra copies of differing pages: {libs.extra_copies}", markup=False)
    culprits = Counter(s for page in report.differing_pages for s in page.symbols)
    if culprits:
        names = ", ".join(f"{s} ({n})" for s, n in culprits.most_common(4))
        console.print(f"differing pages, by the symbol whose address differs:\n  {names}",
                      markup=False)
    layout_file = Path(out_dir) / "layout.json"
    for line in move_lines(read_layout(layout_file).moves if layout_file.is_file() else []):
        console.print(line, markup=False)
    refs = report.references
    direct = sum(refs.direct_by_type.values())
    console.print(f"references that leave a library: {refs.through_tables} through its "
                  f"table, {direct} direct", markup=False)
    if direct:
        kinds = ", ".join(f"{t.removeprefix('R_X86_64_')}: {n}"
                          for t, n in refs.direct_by_type.items())
        console.print(f"  direct, by relocation type (R_X86_64_): {kinds}", markup=False)
    layouts = report.aslr_layouts
    if layouts:
        console.print(f"ASLR (seed {layouts.seed}): {layouts.distinct_layouts} distinct "
                      f"layouts for {layouts.apps} images, {layouts.unique_layout_apps} "
                      "of them unique", markup=False)
        console.print(f"placement entropy per image: {layouts.entropy_bits_min:.1f} to "
                      f"{layouts.entropy_bits_max:.1f} bits", markup=False)
    console.print(f"[dim]{escape(str(Path(out_dir) / 'report.json'))}, manifest.json[/]")


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
