"""The human table of ``report.json``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spacer.core.fileio import read_json


def show_report(out_dir: Path, console: Console | None = None) -> None:
    console = console or Console()
    report = read_json(Path(out_dir) / "report.json")
    before, after = report["original"], report["aligned"]
    table = Table(title=f"Static page sharing of {before['images']} images "
                        f"(4 KiB pages; distinct = what perfect deduplication keeps)")
    table.add_column("pages", min_width=len("readonly padding (zero, gap fill)"),
                     overflow="fold")
    table.add_column("original", justify="right", no_wrap=True, min_width=len("original"))
    table.add_column("aligned", justify="right", no_wrap=True, min_width=len("aligned"))
    # "frames saved" is the real saving: padding is counted on its own row, not in it.
    labels = {"total": "total", "distinct": "distinct", "zero": "zero",
              "padding": "padding (zero, gap fill)", "shared": "shared",
              "frames_saved": "frames saved"}
    for part in ("readonly", "writable"):
        for key, label in labels.items():
            table.add_row(f"{part} {label}", str(before[part].get(key, "")),
                          str(after[part].get(key, "")))
    table.add_row("read-only packed bound", "", str(report["packed_bound"]))
    if report["quality"] is not None:
        table.add_row("aligned distinct read-only / bound", "", f"{report['quality']:.2f}x")
    sizes = report["apps"].values()
    table.add_row("image bytes, all apps", str(sum(a["original_bytes"] for a in sizes)),
                  str(sum(a["aligned_bytes"] for a in sizes)))
    console.print(table)
    libs = report["shared_libraries"]
    console.print(f"pages of {libs['libraries']} shared library variants, each compared across "
                  f"every image linking it: {libs['identical_pages']} identical, "
                  f"{libs['differing_pages']} differing ({libs['extra_copies']} extra copies)")
    culprits = Counter(s for page in report["differing_pages"] for s in page["symbols"])
    if culprits:
        names = ", ".join(f"{s} ({n})" for s, n in culprits.most_common(8))
        console.print(f"symbols whose per-image addresses keep pages apart: {names}",
                      markup=False)
    layout_file = Path(out_dir) / "layout.json"
    moves: dict[str, dict] = {}
    for move in read_json(layout_file).get("moves", []) if layout_file.is_file() else []:
        entry = moves.setdefault(move["unit"], {"kinds": [], "why": move["why"],
                                                "apps": move["apps"]})
        entry["kinds"].append(move["kind"])
    for unit, move in moves.items():
        console.print(f"moved {unit} ({', '.join(move['kinds'])}): {move['why']}; relinks "
                      f"{', '.join(move['apps']) or 'no existing app'}", markup=False)
    refs = report.get("references")
    if refs:
        direct = ", ".join(f"{t} {n}" for t, n in refs["direct_by_type"].items()) or "none"
        console.print(f"references leaving a library: {refs['through_tables']} through "
                      f"tables; direct, per library variant: {direct}", markup=False)
    layouts = report.get("aslr_layouts")
    if layouts:
        console.print(f"ASLR (seed {layouts['seed']}): {layouts['distinct_layouts']} distinct "
                      f"layouts for {layouts['apps']} images, {layouts['unique_layout_apps']} "
                      f"of them unique; placement entropy {layouts['entropy_bits_min']:.1f} to "
                      f"{layouts['entropy_bits_max']:.1f} bits per image", markup=False)
    console.print(f"[dim]{escape(str(Path(out_dir) / 'report.json'))}, manifest.json[/]")
