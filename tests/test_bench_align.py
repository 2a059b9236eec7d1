"""``spacer bench align``: several fleet sizes in one run give the scaling of the full
align and the plan's share of it (the figures themselves need a long run: see the
README's Cost section)."""

from __future__ import annotations

import pytest
from rich.console import Console

from spacer.bench import align as bench_align


def _row(apps: int, full: float, plan: float) -> dict:
    return {"apps": apps, "full_s": full, "noop_s": full / 10, "changed_s": full / 5,
            "tasks": [5 * apps + 2, 0, 5], "relinked_after_change": ["relink:hello"],
            "stages": {"extract": {"wall_s": full / 2, "busy_s": full / 2, "tasks": apps},
                       "plan": {"wall_s": plan, "busy_s": plan, "tasks": 1}},
            "peak_rss": {"self_mib": 80.0, "children_max_mib": 40.0},
            "ro_original": 600, "ro_aligned": 300, "ideal": 250}


def test_scaling_and_plan_share_are_printed():
    rows = [_row(411, 80.0, 3.2), _row(111, 20.0, 0.2)]
    for row in rows:
        row["plan_share"] = bench_align.plan_share(row)
    assert bench_align.scaling(rows) == [{"from_apps": 111, "to_apps": 411,
                                          "apps_ratio": 3.703, "full_ratio": 4.0}]
    assert [r["plan_share"] for r in rows] == [0.04, 0.01]
    console = Console(width=80, record=True)
    bench_align.show(rows, console)
    text = console.export_text()
    assert "plan's share of the full align: 4.0% at 411 apps, 1.0% at 111 apps" in text
    assert "full align, 411 apps against 111: 4.00x the time for 3.70x the apps" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_count_takes_several_fleet_sizes():
    import argparse

    from spacer.bench.commands import add_parsers

    top = argparse.ArgumentParser()
    add_parsers(top.add_subparsers())
    ns = top.parse_args(["align", "--count", "100", "400", "-j", "1"])
    assert ns.count == [100, 400] and ns.jobs == 1


@pytest.mark.slow
def test_bench_with_aslr_times_the_rebuild_and_counts_its_compiles(demo_workspace, tmp_path):
    row = bench_align.bench_workspace(tmp_path, demo_workspace, ("hello", "counter"), 1,
                                      aslr=1)
    assert row["stages"]["pic"]["tasks"] == 2 and row["stages"]["pic"]["busy_s"] > 0
    # Every recorded step behind both links is replayed once per app: each compile, and
    # each library's partial link and symbol-keeping copy; a compile the two apps share
    # runs once, and the cached align against --aslr 0 is measured in the same run.
    records = [p for app in ("hello", "counter")
               for p in (demo_workspace / "apps" / app / "build").rglob("*.o.cmd")]
    compiles = [p for p in records if " -c " in p.read_text()]
    assert row["commands"] == len(records)
    assert 0 < row["compiles"] < len(compiles)
    assert row["compile_s"] > 0 and row["cached_s"] > 0 and row["aslr0_s"] > 0
    plain = bench_align.bench_workspace(tmp_path / "plain", demo_workspace,
                                        ("hello", "counter"), 1)
    assert "pic" not in plain["stages"] and "compiles" not in plain
