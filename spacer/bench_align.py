"""``spacer bench align``: how long aligning takes, full vs no-op vs one app changed,
and the static sharing it reaches; printed as figures measured in one run."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spacer.core.errors import INTERNAL, SpacerError
from spacer.core.fileio import read_json
from spacer.tasks.config import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "align", help="time a full align, a no-op rerun and a one-app change",
        description="Build the demo fleet (plus N generated apps) in a scratch folder, then "
                    "time a full align, a second run with nothing changed, and a run after "
                    "one app's code changed; print the ratios and the static page sharing.")
    p.add_argument("--count", type=int, nargs="+", default=[0, 100], metavar="N",
                   help="generated apps on top of the demo ones, one run each (default 0 100)")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="run in DIR and keep it (default: a temporary folder)")
    p.set_defaults(func=run)
    return p


def _timed_align(settings: Settings) -> tuple[float, list[str]]:
    from spacer.tasks.loader import run_tasks

    start = time.perf_counter()
    code, ran, failures = run_tasks(settings, ["align"])
    took = time.perf_counter() - start
    if code != 0:
        first = failures[0] if failures else None
        error = SpacerError(f"align failed during the benchmark: "
                            f"{first.line if first else 'see above'}")
        error.exit_code = first.exit_code if first else INTERNAL
        raise error
    return took, ran


def bench_fleet(root: Path, count: int) -> dict:
    """One fleet: build it from a private copy of the demo sources, then time aligns."""
    from spacer.demo import SRC_DIR
    from spacer.demo.apps import fleet
    from spacer.demo.build import build_fleet

    src = root / "src"
    shutil.copytree(SRC_DIR, src)
    ws = root / "ws"
    apps = fleet(count)
    build_fleet(ws, apps, src_root=src)
    settings = Settings(workspace=ws, demo=False)
    full, ran_full = _timed_align(settings)
    noop, ran_noop = _timed_align(settings)
    # One app's own code changes (a new function): rebuild it, then align again.
    main_c = src / "apps" / "hello" / "main.c"
    main_c.write_text(main_c.read_text() + "\nint spacer_bench_extra(int x) { return x * 7 + 1; }\n")
    build_fleet(ws, [a for a in apps if a.name == "hello"], src_root=src)
    changed, ran_changed = _timed_align(settings)
    report = read_json(settings.out_dir / "report.json")
    return {"apps": len(apps), "full_s": full, "noop_s": noop, "changed_s": changed,
            "tasks": [len(ran_full), len(ran_noop), len(ran_changed)],
            "relinked_after_change": sorted(t for t in ran_changed if t.startswith("relink:")),
            "ro_original": report["original"]["readonly"]["distinct"],
            "ro_aligned": report["aligned"]["readonly"]["distinct"],
            "ideal": report["packed_bound"]}


def run(ns: argparse.Namespace) -> int:
    out = Console(width=150)
    rows = []
    for count in ns.count:
        if ns.keep:
            root = ns.keep / f"count-{count}"
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            rows.append(bench_fleet(root, count))
        else:
            with tempfile.TemporaryDirectory(prefix="spacer-bench-") as tmp:
                rows.append(bench_fleet(Path(tmp), count))
    table = Table(title="spacer align: time and static sharing (one run each)")
    for col in ("apps", "full align", "no-op rerun", "one app changed", "tasks run",
                "relinked after change", "RO distinct original", "RO distinct aligned",
                "packed bound"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["apps"]), f"{r['full_s']:.2f} s",
                      f"{r['noop_s']:.2f} s ({r['noop_s'] / r['full_s']:.1%})",
                      f"{r['changed_s']:.2f} s ({r['changed_s'] / r['full_s']:.1%})",
                      "/".join(map(str, r["tasks"])), str(len(r["relinked_after_change"])),
                      str(r["ro_original"]), str(r["ro_aligned"]), str(r["ideal"]))
    out.print(table)
    return 0
