"""``spacer bench align``: how long aligning takes, full vs no-op vs one app changed,
the time each stage takes, serial vs ``-j N``, peak memory, and the static sharing
reached; printed as figures measured in one run (and written as JSON with ``--json``,
schema in the README)."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spacer.core.errors import INTERNAL, SpacerError
from spacer.core.formats.facts import read_facts
from spacer.core.formats.report import read_report
from spacer.core.outputs.atomic import write_text_atomic
from spacer.core.outputs.paths import OutputLayout
from spacer.core.rewrite.compiles import CompileCache
from spacer.run.settings import Settings

SCHEMA = "spacer-bench-align/2"  # 2: "compiles" counts distinct compiles
STAGES = ("fleet", "extract", "pic", "symbols", "plan", "aslr", "lds", "relink", "verify", "pool",
          "report")




def _timed_align(settings: Settings, jobs: int = 1) -> tuple[float, list[str], dict]:
    """Seconds, tasks run and per-stage seconds (wall, and summed over tasks) of one align."""
    from spacer.run.loader import run_tasks
    from spacer.run.progress import RichReporter

    start = time.perf_counter()
    code, ran, failures = run_tasks(settings, ["align"], jobs=jobs, style="plain")
    took = time.perf_counter() - start
    if code != 0:
        first = failures[0] if failures else None
        error = SpacerError(f"align failed during the benchmark: "
                            f"{first.line if first else 'see above'}")
        error.exit_code = first.exit_code if first else INTERNAL
        raise error
    stages = {name: {"wall_s": round(s.wall, 3), "busy_s": round(s.busy, 3), "tasks": s.run}
              for name, s in RichReporter.stages.items() if s.run}
    return took, ran, stages


def _peak_rss_mib() -> dict:
    """Peak resident memory so far: this process, and the largest child (gcc, ld, the
    ``-j`` workers), in MiB (``getrusage``)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self_mib": round(own, 1), "children_max_mib": round(child, 1)}


def _sharing(out: Path) -> dict:
    report = read_report(out / "report.json")
    return {"ro_original": report.original.readonly.distinct,
            "ro_aligned": report.aligned.readonly.distinct,
            "ideal": report.packed_bound}


def _serial_vs_parallel(settings: Settings, jobs: int, full: float, out: Path) -> dict:
    """The same full align with ``-j 1`` into the output folder ``out``."""
    serial, _, _ = _timed_align(replace(settings, out=out), 1)
    return {"jobs": jobs, "serial_s": serial, "parallel_s": full, "ratio": full / serial}


def _compiles(settings: Settings) -> dict:
    """Under ``--aslr``: the recorded build commands the pic stage replays (compiles and
    partial links), over all apps, and the compiles that ran: the fleet's compile cache
    holds each distinct one once."""
    if not settings.plan.get("aslr"):
        return {}
    facts = [read_facts(p) for p in sorted((settings.out_dir / "pic").glob("*.json"))]
    cache = CompileCache(OutputLayout(settings.out_dir).compile_cache)
    return {"commands": sum(f.rebuilt_commands or 0 for f in facts),
            "compiles": cache.entries(), "compile_s": round(cache.compile_seconds(), 2)}


def bench_fleet(root: Path, counts: list[int], jobs: int = 1, aslr: int = 0) -> list[dict]:
    """Fleets of the demo apps plus each of ``counts`` generated apps, in one run: the
    largest fleet is built once, from a private copy of the demo sources, and each
    smaller one is its first apps. Each is aligned into its own output folder: a full
    align, a no-op rerun, then, after one app's code changed, a third align."""
    from spacer.demo import SRC_DIR
    from spacer.demo.apps import fleet
    from spacer.demo.build import build_fleet

    src = root / "src"
    shutil.copytree(SRC_DIR, src)
    ws = root / "ws"
    apps = fleet(max(counts))
    build_fleet(ws, apps, src_root=src)
    sizes = sorted(set(counts))
    runs = []
    for count in sizes:
        names = tuple(a.name for a in fleet(count))
        settings = Settings(workspace=ws, out=root / f"out-{count}", demo=False,
                            apps=names if count < max(counts) else (), plan={"aslr": aslr})
        full, ran_full, stages = _timed_align(settings, jobs)
        row = {"apps": len(names), "full_s": full, "stages": stages, **_compiles(settings)}
        if jobs > 1:
            row["parallel"] = _serial_vs_parallel(settings, jobs, full, root / f"j1-{count}")
        noop, ran_noop, _ = _timed_align(settings, jobs)
        # getrusage only grows: read it before a larger fleet runs (smallest first).
        row.update({"noop_s": noop, "tasks": [len(ran_full), len(ran_noop)],
                    "peak_rss": _peak_rss_mib()})
        runs.append((settings, row))
    # One app's own code changes (a new function): rebuild it, then align each again.
    main_c = src / "apps" / "hello" / "main.c"
    main_c.write_text(main_c.read_text() + "\nint spacer_bench_extra(int x) { return x * 7 + 1; }\n")
    build_fleet(ws, [a for a in apps if a.name == "hello"], src_root=src)
    rows = []
    for settings, row in runs:
        changed, ran_changed, _ = _timed_align(settings, jobs)
        if "compiles" in row:  # what the change compiled, against the full align
            row["compiles_after_change"] = _compiles(settings)["compiles"] - row["compiles"]
        row.update({"changed_s": changed, "tasks": [*row["tasks"], len(ran_changed)],
                    "relinked_after_change": sorted(t for t in ran_changed
                                                    if t.startswith("relink:")),
                    **_sharing(settings.out_dir)})
        rows.append(row)
    return rows


def scaling(rows: list[dict]) -> list[dict]:
    """Each larger fleet against the smallest: how many times the apps, and how many
    times the full align's time."""
    rows = sorted(rows, key=lambda r: r["apps"])
    return [{"from_apps": rows[0]["apps"], "to_apps": r["apps"],
             "apps_ratio": round(r["apps"] / rows[0]["apps"], 3),
             "full_ratio": round(r["full_s"] / rows[0]["full_s"], 3)} for r in rows[1:]]


def plan_share(row: dict) -> float | None:
    """The plan stage's share of the full align's wall time."""
    plan = row["stages"].get("plan")
    return round(plan["wall_s"] / row["full_s"], 4) if plan and row["full_s"] else None


def bench_workspace(root: Path, workspace: Path, apps: tuple[str, ...], jobs: int,
                    aslr: int = 0) -> dict:
    """A full align of ``workspace`` (only read) into a scratch output folder."""
    from spacer.core.readers.workspace import find_apps, select_apps

    selected = select_apps(find_apps(workspace), apps)  # a bad workspace: one line, now
    settings = Settings(workspace=workspace, out=root / "out", demo=False, apps=apps,
                        plan={"aslr": aslr})
    full, ran, stages = _timed_align(settings, jobs)
    row = {"apps": len(selected), "full_s": full, "stages": stages, "tasks": [len(ran)],
           "workspace": str(workspace.resolve()), **_compiles(settings)}
    if aslr:  # what the position-independent modes cost, against the default, in this run
        row["aslr0_s"], _, row["aslr0_stages"] = _timed_align(
            replace(settings, out=root / "out-aslr0", plan={"aslr": 0}), jobs)
        # The same align into a new folder whose compile cache holds every compile:
        # the full align less the time the compiles took.
        warm = replace(settings, out=root / "out-cached")
        cache = OutputLayout(settings.out_dir).compile_cache
        shutil.copytree(cache, OutputLayout(warm.out_dir).compile_cache, symlinks=True)
        row["cached_s"], _, row["cached_stages"] = _timed_align(warm, jobs)
    if jobs > 1:
        row["parallel"] = _serial_vs_parallel(settings, jobs, full, root / "out-j1")
    row.update({**_sharing(settings.out_dir), "peak_rss": _peak_rss_mib()})
    return row


def in_scratch(keep: Path | None, name: str, work):
    """``work(root)`` in ``keep/name`` (emptied first, kept after), else in a temporary
    folder removed after."""
    if keep:
        root = keep / name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return work(root)
    with tempfile.TemporaryDirectory(prefix="spacer-bench-") as tmp:
        return work(Path(tmp))


def run(ns: argparse.Namespace) -> int:
    out = Console(width=80)
    if ns.workspace:
        rows = [in_scratch(ns.keep, "workspace", lambda root: bench_workspace(
            root, ns.workspace, tuple(ns.uks or ()), ns.jobs, ns.aslr))]
    else:
        rows = in_scratch(ns.keep, "fleet",
                          lambda root: bench_fleet(root, ns.count, ns.jobs, ns.aslr))
    for row in rows:
        if plan_share(row) is not None:
            row["plan_share"] = plan_share(row)
    show(rows, out, ns.aslr)
    figures = {"schema": SCHEMA, "jobs": ns.jobs, "aslr": ns.aslr, "runs": rows}
    if len(rows) > 1:
        figures["scaling"] = scaling(rows)
    if ns.json:
        write_text_atomic(ns.json, json.dumps(figures, indent=1) + "\n")
    return 0


def show(rows: list[dict], out: Console, aslr: int = 0) -> None:
    """The figures as tables no wider than 80 columns."""
    table = Table(title=f"spacer align --aslr {aslr}: time (one run each)",
                  title_justify="left")
    for col in ("apps", "full\nalign", "no-op\nrerun", "one app\nchanged", "tasks\nrun",
                "relinked\nafter\nchange", "peak RSS\nMiB", "-j N /\n-j 1"):
        table.add_column(col, justify="right")
    for r in rows:
        par = r.get("parallel")
        rss = r["peak_rss"]
        table.add_row(
            str(r["apps"]), f"{r['full_s']:.2f} s",
            f"{r['noop_s']:.2f} s\n{r['noop_s'] / r['full_s']:.1%}" if "noop_s" in r else "",
            f"{r['changed_s']:.2f} s\n{r['changed_s'] / r['full_s']:.1%}"
            if "changed_s" in r else "",
            "/".join(map(str, r["tasks"])),
            str(len(r["relinked_after_change"])) if "relinked_after_change" in r else "",
            f"{rss['self_mib']:.0f}\n+{rss['children_max_mib']:.0f}",
            f"{par['parallel_s']:.2f}/\n{par['serial_s']:.2f} s\n{par['ratio']:.2f}"
            if par else "")
    out.print(table)
    stages = Table(title="time per stage of the full align (wall s; summed over tasks)",
                   title_justify="left")
    stages.add_column("apps", justify="right")
    present = [s for s in STAGES if any(s in r["stages"] for r in rows)]
    for s in present:
        stages.add_column(s, justify="right")
    for r in rows:
        cells = []
        for s in present:
            f = r["stages"].get(s)
            cells.append(f"{f['wall_s']:.2f}\n{f['busy_s']:.2f}" if f else "")
        stages.add_row(str(r["apps"]), *cells)
    out.print(stages)
    for r in rows:
        if "compiles" in r:
            after = (f"; {r['compiles_after_change']} after one app's code changed"
                     if "compiles_after_change" in r else "")
            out.print(f"pic at {r['apps']} apps: {r['commands']} recorded build commands "
                      f"replayed (compiles, partial links); {r['compiles']} distinct "
                      f"compiles ran ({r['compile_s']:.1f} s one after another), the rest "
                      f"came from the fleet's compile cache{after}")
        if "aslr0_s" in r:
            out.print(f"full align in this run: --aslr {aslr} {r['full_s']:.1f} s; again "
                      f"with every compile cached {r['cached_s']:.1f} s (so the compiles "
                      f"took {r['full_s'] - r['cached_s']:.1f} s); --aslr 0 "
                      f"{r['aslr0_s']:.1f} s; cached / --aslr 0: "
                      f"{r['cached_s'] / r['aslr0_s']:.2f}x")
    shares = [f"{r['plan_share']:.1%} at {r['apps']} apps" for r in rows if "plan_share" in r]
    if shares:
        out.print(f"plan's share of the full align: {', '.join(shares)}")
    for ratio in scaling(rows):
        out.print(f"full align, {ratio['to_apps']} apps against {ratio['from_apps']}: "
                  f"{ratio['full_ratio']:.2f}x the time for {ratio['apps_ratio']:.2f}x the "
                  "apps")
    sharing = Table(title="read-only distinct pages", title_justify="left")
    for col in ("apps", "original", "aligned", "packed bound"):
        sharing.add_column(col, justify="right")
    for r in rows:
        sharing.add_row(str(r["apps"]), str(r["ro_original"]), str(r["ro_aligned"]),
                        str(r["ideal"]))
    out.print(sharing)
