"""``spacer bench changes``: what a fleet that changes costs, measured in one run.

First the demo fleet alone, with five generated apps added one at a time; then the
demo fleet plus N generated apps, with the changes an operator makes one at a time:
one app added, one removed, one rebuilt with a library changed in place, one rebuilt
with a library grown by 20 KB; then ten apps added one at a time, against a fresh
plan of the same fleet (read-only distinct pages). For each it counts the apps
relinked and the existing images whose bytes changed (over all the additions of a
sequence, not only its last).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spacer.bench.align import in_scratch
from spacer.core.errors import ExternalFailure
from spacer.core.formats.report import read_report


def _images(out: Path) -> dict[str, str]:
    return {p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (out / "apps").glob("*/*_qemu-x86_64")}


def _align(ws: Path, out: Path, replan: bool = False) -> tuple[set[str], int]:
    from spacer.run.loader import run_tasks
    from spacer.run.settings import Settings

    code, ran, failures = run_tasks(Settings(workspace=ws, out=out, demo=False,
                                             replan=replan), ["align"])
    if code != 0:
        raise ExternalFailure(f"align failed: {failures[0].line if failures else 'see above'}")
    distinct = read_report(out / "report.json").aligned.readonly.distinct
    return {t.split(":", 1)[1] for t in ran if t.startswith("relink:")}, distinct


def _step(ws: Path, out: Path, what: str, change) -> dict:
    before = _images(out)
    change()
    relinked, distinct = _align(ws, out)
    after = _images(out)
    changed = sorted(a for a in before if a in after and before[a] != after[a])
    return {"change": what, "relinked": sorted(relinked), "changed": changed,
            "distinct": distinct}


def _added_one_at_a_time(ws: Path, out: Path, src: Path, what: str,
                         indices: range) -> dict:
    """Apps ``indices`` added one at a time; the rows summed: every app relinked, every
    existing image rewritten at any step."""
    from spacer.demo.apps import generated_app
    from spacer.demo.build import build_fleet

    relinked: set[str] = set()
    changed: set[str] = set()
    for i in indices:
        row = _step(ws, out, what,
                    lambda i=i: build_fleet(ws, [generated_app(i)], src_root=src))
        relinked |= set(row["relinked"])
        changed |= set(row["changed"])
    return {"change": what, "relinked": sorted(relinked), "changed": sorted(changed),
            "distinct": row["distinct"]}


def bench(root: Path, count: int) -> list[dict]:
    from spacer.demo import SRC_DIR
    from spacer.demo.apps import DEMO_APPS, fleet, generated_app
    from spacer.demo.build import build_fleet

    src = root / "src"
    shutil.copytree(SRC_DIR, src)
    # The small fleet first: where a new app meets most of the kept slots.
    small_ws, small_out = root / "small-ws", root / "small-out"
    build_fleet(small_ws, list(DEMO_APPS), src_root=src)
    _align(small_ws, small_out)
    rows = [_added_one_at_a_time(small_ws, small_out, src,
                                 f"demo fleet ({len(DEMO_APPS)}): five apps added one at a "
                                 "time", range(5))]
    ws, out = root / "ws", root / "out"
    apps = {a.name: a for a in fleet(count)}
    build_fleet(ws, list(apps.values()), src_root=src)
    _align(ws, out)
    rows.append(_step(ws, out, "one app added",
                      lambda: build_fleet(ws, [generated_app(count)], src_root=src)))
    rows.append(_step(ws, out, "one app removed",
                      lambda: shutil.rmtree(ws / "apps" / generated_app(count).name)))

    def same_size() -> None:
        selftest = src / "libukhash" / "selftest.c"
        selftest.write_text(selftest.read_text().replace('"123456789"', '"123456780"'))
        build_fleet(ws, [apps["hashsum"]], src_root=src)

    def grown() -> None:
        crc = src / "libukhash" / "crc.c"
        crc.write_text(crc.read_text() + "\nconst unsigned char uk_hash_pad[20480] = { 1 };\n")
        build_fleet(ws, [apps["fsdemo"]], src_root=src)

    rows.append(_step(ws, out, "library changed in place (hashsum)", same_size))
    rows.append(_step(ws, out, "library grown by 20 KB (fsdemo)", grown))
    row = _added_one_at_a_time(ws, out, src, "ten apps added one at a time",
                               range(count + 1, count + 11))
    _, row["fresh"] = _align(ws, root / "fresh")
    rows.append(row)
    return rows


def run(ns: argparse.Namespace) -> int:
    rows = in_scratch(ns.keep, "changes", lambda root: bench(root, ns.count))
    table = Table(title="A fleet that changes: relinks per change")
    table.add_column("change")
    table.add_column("apps relinked")
    table.add_column("old images changed", justify="right")
    table.add_column("ro distinct pages", justify="right")
    for row in rows:
        names = ", ".join(row["relinked"][:2]) + (", ..." if len(row["relinked"]) > 2 else "")
        distinct = str(row["distinct"])
        if "fresh" in row:
            distinct += f" (fresh {row['fresh']})"
        table.add_row(row["change"], f"{len(row['relinked'])} {names}".strip(),
                      str(len(row["changed"])), distinct)
    Console().print(table)
    return 0
