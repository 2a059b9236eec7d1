"""``spacer bench runtime``: what the indirection tables cost at run time.

Builds a call-heavy app (a loop over nolibc's ``strlen``/``memcpy``/``strcmp`` and
ukhash's ``uk_sha256_update``, timed with the TSC inside the guest) next to
``hashsum``, which shares nolibc and ukhash with it, and aligns the pair with
``--aslr 0``, ``1`` and ``2``, boots every image several times and prints the
median guest cycles and boot-to-exit times, as ratios to the original image,
all measured in one run. Under ``--aslr 1`` and ``2`` the app's own calls are
direct (its code is private) and ukhash reaches nolibc's ``memcpy`` through its
table: the loop pays the indirection where a fleet pays it, between shared
libraries. QEMU runs TCG here, which emulates every instruction:
an extra indirect call costs relatively more than on hardware, so the figures
are an upper bound on the cost under KVM. Without KVM, one more boot per image
under ``-icount`` counts the instructions the loop runs, which no host noise
reaches.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from spacer.bench.align import in_scratch
from spacer.core.errors import ExternalFailure
from spacer.core.formats.manifest import read_manifest

MODES = (0, 1, 2)
_CYCLES = re.compile(r"cycles=(\d+)")




# Under -icount every guest instruction takes the same virtual time, so the guest's
# TSC counts instructions: a figure free of the host's noise and of TCG's costs.
ICOUNT = ("-icount", "shift=0")


def _boot_once(image: Path, extra: tuple[str, ...] = ()) -> tuple[int, float, str]:
    from spacer.measure.qemu import boot

    start = time.perf_counter()
    result = boot(image, timeout=120, extra=extra)
    seconds = time.perf_counter() - start
    found = _CYCLES.search(result.output)
    if result.timed_out or not found:
        raise ExternalFailure("the benchmark app printed no cycle count", image)
    return int(found.group(1)), seconds, _CYCLES.sub("cycles=", result.output)


def bench(root: Path, runs: int) -> list[dict]:
    """Every mode's figures, measured in this one run; the images take turns, so a
    drift of the host's speed reaches all of them alike."""
    from spacer.demo.apps import BENCH_APPS, DEMO_APPS
    from spacer.demo.build import build_fleet, image_path
    from spacer.measure.qemu import kvm_usable
    from spacer.run.loader import run_tasks
    from spacer.run.settings import Settings

    app = BENCH_APPS[0]
    partner = next(a for a in DEMO_APPS if a.name == "hashsum")
    ws = root / "ws"
    build_fleet(ws, [app, partner])
    images = {"original": image_path(ws, app)}
    for mode in MODES:
        out = root / f"aslr{mode}"
        settings = Settings(workspace=ws, out=out, demo=False, plan={"aslr": mode})
        code, _, failures = run_tasks(settings, ["align"])
        if code != 0:
            raise ExternalFailure(f"align --aslr {mode} failed: "
                                  f"{failures[0].line if failures else 'see above'}")
        entry = read_manifest(out / "manifest.json").apps[app.name]
        images[f"--aslr {mode}"] = Path(entry.aligned.image)
    samples: dict[str, list[tuple[int, float, str]]] = {name: [] for name in images}
    for _ in range(runs):
        for name, image in images.items():
            samples[name].append(_boot_once(image))
    counted = {} if kvm_usable() else {name: _boot_once(image, ICOUNT)[0]
                                       for name, image in images.items()}
    rows = []
    for name, got in samples.items():
        if {output for _, _, output in got} != {samples["original"][0][2]}:
            raise ExternalFailure(f"{name} printed something else than the original",
                                  images[name])
        rows.append({"mode": name, "cycles": statistics.median(c for c, _, _ in got),
                     "seconds": statistics.median(s for _, s, _ in got),
                     "instructions": counted.get(name)})
    return rows


def run(ns: argparse.Namespace) -> int:
    console = Console()
    rows = in_scratch(ns.keep, "runtime", lambda root: bench(root, ns.runs))
    base = rows[0]
    counted = base["instructions"] is not None
    table = Table(title=f"Call loop (2,000,000 x strlen, memcpy, strcmp, sha256 update), "
                        f"median of {ns.runs} boots"
                        + ("; QEMU TCG, an upper bound on hardware cost" if counted else ""))
    columns = ["image", "guest cycles", "ratio", "boot s", "ratio"]
    if counted:
        columns += ["instructions", "ratio"]
    table.box = box.SIMPLE  # seven columns in 80
    for column in columns:
        table.add_column(column, justify="left" if column == "image" else "right",
                         no_wrap=True)
    for row in rows:
        cells = [row["mode"], f"{row['cycles']:,.0f}",
                 f"{row['cycles'] / base['cycles']:.3f}", f"{row['seconds']:.2f}",
                 f"{row['seconds'] / base['seconds']:.3f}"]
        if counted:
            cells += [f"{row['instructions']:,}",
                      f"{row['instructions'] / base['instructions']:.3f}"]
        table.add_row(*cells)
    console.print(table)
    console.print("boot s: boot to exit, wall clock")
    if counted:
        console.print("instructions: the loop's guest TSC under -icount shift=0, where "
                      "every instruction takes the same virtual time (one boot each)")
    return 0
