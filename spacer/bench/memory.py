"""``spacer bench memory``: the host memory a running fleet uses, original vs aligned.

Boots K guests of every app from ``manifest.json`` (or, with ``--sweep``, of the
first N apps by name, for each N), first the original images, then (after stopping
them) the aligned ones, lets KSM merge, and prints the physical frames each set
really holds, split into image pages shared across guests, image pages of one guest,
QEMU's firmware blocks and runtime memory. ``--json-out`` writes the figures, ``--plot``
draws them; ``--timeline`` also samples the frames over the guests' first seconds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import struct
import sys
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from spacer.core.errors import INTERRUPTED, BadInput, SpacerError, ToolMissing
from spacer.core.outputs.atomic import write_bytes_atomic, write_json_atomic
from spacer.measure import fleet, guests, ksm, timeline

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # kill, closed terminal: like Ctrl-C


def _stop(_signum: int, _frame: object) -> None:
    # Treated like Ctrl-C so the guests stop and KSM/THP settings come back.
    raise KeyboardInterrupt


def _on_stop_signals(handler: object) -> dict[int, object]:
    """Install ``handler`` for SIGTERM and SIGHUP where Python allows it (main thread
    only); return the handlers it replaced, for :func:`_restore_signals`."""
    previous = {}
    for sig in STOP_SIGNALS:
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:
            pass
    return previous


def _restore_signals(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _check_output(path: Path, option: str) -> None:
    """Fail before a long run, not after it, when ``path`` cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise BadInput(f"{option}: no folder {folder}", path, "create it first")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"{option}: folder not writable", folder, "give another path")


def run(ns: argparse.Namespace) -> int:
    """Handler of ``spacer bench memory``; returns the exit status."""
    err = Console(stderr=True)
    out = Console()
    try:
        instances = ns.instances if ns.instances is not None else (1 if ns.sweep else 4)
        if instances < 1:
            raise SpacerError("--instances must be at least 1")
        manifest_path = (ns.out or ns.workspace / ".spacer") / "manifest.json"
        manifest = fleet.load_manifest(manifest_path, ns.apps, ns.pool, ns.memory)
        labels = fleet.POOL_SETS if ns.pool else fleet.PLAIN_SETS
        steps = fleet.sweep_steps(ns.sweep, len(manifest), manifest_path) if ns.sweep else None
        guests.qemu_available()
        if ns.plot:
            _matplotlib()  # fail before a long run, not after it
            _check_output(ns.plot, "--plot")
        if ns.json_out:
            _check_output(ns.json_out, "--json-out")
        if ns.timeline_plot:
            if not ns.timeline:
                raise SpacerError("--timeline-plot needs --timeline")
            _matplotlib()
            _check_output(ns.timeline_plot, "--timeline-plot")
        if ns.timeline and ns.timeline_seconds <= 0:
            raise SpacerError("--timeline-seconds must be more than 0")
        counts = fleet.instance_steps(instances) if ns.plot else [instances]
        previous = _on_stop_signals(_stop)
        try:
            with err.status("starting") as status, ksm.ksm_session(ns.sysfs, zero_pages=ns.ksm_zero_pages) as session:
                def progress(msg: str) -> None:
                    status.update(msg)
                if steps:
                    result = fleet.measure_sweep(session, manifest, steps, instances, ns.memory,
                                                  ns.timeout, progress=progress, lean=ns.lean,
                                                  labels=labels)
                else:
                    result = fleet.measure_fleet(session, manifest, counts, ns.memory,
                                                  ns.timeout, progress=progress, lean=ns.lean,
                                                  labels=labels)
                if ns.timeline:
                    apps = result.apps[:steps[-1]] if steps else result.apps
                    sources = ("original", "aligned", "pooled") if ns.pool else guests.SETS
                    sets = {label: [manifest[a][label] for a in apps] for label in sources}
                    result.timeline = timeline.measure_timeline(
                        session, sets, apps, instances, ns.memory, ns.timeline_seconds,
                        lean=ns.lean, progress=progress)
        finally:
            _restore_signals(previous)
        data = fleet.as_json(result)
        if ns.json_out:
            write_json_atomic(ns.json_out, data)
        if ns.plot:
            plot(result, ns.plot)
        if ns.timeline_plot:
            plot_timeline(result.timeline, ns.timeline_plot)
    except KeyboardInterrupt:
        print("spacer: interrupted: guests stopped, KSM and THP settings restored",
              file=sys.stderr)
        return INTERRUPTED
    except SpacerError as exc:
        print(f"spacer: {exc}", file=sys.stderr)  # one line, never wrapped, no markup
        return exc.exit_code
    if ns.json:
        out.print_json(json.dumps(data))
    else:
        out.print(table(result))
    if result.timeline is not None and not ns.json:
        out.print(timeline_table(result.timeline))
    for option, path in (("JSON", ns.json_out), ("plot", ns.plot),
                         ("timeline plot", ns.timeline_plot)):
        if path:
            err.print(f"{option} written to {path}", markup=False)
    return 0


# Guests, frames saved, the KSM wait, the static prediction and the split's details are
# in the JSON, not columns: 80 columns.
COLUMNS = ("set", "frames used", "MiB", "image shared", "image private", "firmware",
           "runtime", "against original")


NO_KSM = "†"  # marks a set measured without KSM


def _shown(label: str) -> str:
    return label.replace("_no_ksm", NO_KSM)


def table(result: fleet.FleetMemory) -> Table:
    """The measurements as a table that fits 80 columns (what rich assumes when the
    output is piped) and never cuts a header: headers wrap between words, and no
    column gets narrower than its longest header word."""
    rows = []
    unstable = False
    for point in result.points:
        x = str(point.apps if result.x == "apps" else point.instances)
        for i, (label, m) in enumerate(point.sets.items()):
            # Against the original set of the same KSM state.
            base = point.sets.get("original" if fleet.SET_KINDS[label].ksm else "original_no_ksm")
            ratio = f"{m.frames / base.frames:.3f}" if base and m is not base and base.frames else ""
            unstable = unstable or not m.stable
            parts = ((str(m.split.image_shared), str(m.split.image_private),
                      str(m.split.firmware), str(m.split.runtime)) if m.split
                     else ("?", "?", "?", "?"))
            rows.append((x if i == 0 else "", _shown(label),
                         str(m.frames) + ("" if m.stable else "*"), f"{m.mib:.1f}", *parts,
                         ratio))
    columns = (result.x, *COLUMNS)
    per_app = result.points[0].instances if result.points else 1
    what = (f"{per_app} guest{'s' if per_app > 1 else ''} of each of the first N apps"
            if result.x == "apps" else f"{len(result.apps)} apps")
    lean = ", lean QEMU" if result.lean else ""
    t = Table(title=f"Memory of the running fleet ({what}, {result.memory_mib} MiB per "
                    f"guest{lean}, 4 KiB frames)",
              box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for i, col in enumerate(columns):
        # As wide as the longest header word or cell: headers wrap between words.
        width = max(*(len(word) for word in col.split()), *(len(r[i]) for r in rows))
        t.add_column(col, justify="left" if i == 1 else "right", width=width,
                     overflow="fold")
    for row in rows:
        t.add_row(*row)
    notes = ["frames used = physical frames behind the guests' RAM after KSM merged it "
             "= image shared + image private + firmware + runtime (see the README)"]
    last = result.points[-1].original if result.points else None
    if last is not None and last.guests:
        notes.append(f"firmware = QEMU's BIOS, ROM and ACPI blocks: "
                     f"{last.firmware_pages / last.guests:.0f} pages per guest before KSM")
    if any(m.split is None for p in result.points for m in p.sets.values()):
        notes.append("? = frame numbers hidden (not root), no split")
    if unstable:
        notes.append("* KSM had not settled when measured")
    if any(label.endswith("_no_ksm") for label in result.labels):
        notes.append(f"{NO_KSM} without KSM: read once the guests booted; the ratio is "
                     f"against the original set of the same kind; pooled = booted from the "
                     "pool (-c)")
    t.caption = "; ".join(notes)
    return t


def timeline_table(tl: timeline.Timeline) -> Table:
    """Frames of each set at each KSM rate over the first seconds: a few columns."""
    shown = [i for i, t in enumerate(tl.series[0].t) if i in (0, 1, 2, 3, 5) or i % 10 == 0
             or i == len(tl.series[0].t) - 1] if tl.series else []
    t = Table(title=f"Time to sharing: frames of {tl.guests} guests after they start",
              box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    t.add_column("set")
    t.add_column("KSM rate")
    for i in shown:
        t.add_column(f"{tl.series[0].t[i]:.0f} s", justify="right")
    for s in tl.series:
        t.add_row(s.set, s.rate, *(str(s.frames[i]) if i < len(s.frames) else ""
                                   for i in shown))
    rates = "; ".join(f"{name}: pages_to_scan {r[ksm.PAGES_TO_SCAN]}, sleep_millisecs "
                      f"{r[ksm.SLEEP]}" for name, r in timeline.RATES.items())
    t.caption = f"KSM rates: {rates}"
    return t


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ToolMissing("--plot needs matplotlib",
                          hint="install matplotlib (pip install matplotlib), or from spacer's "
                         "source folder: pip install -e '.[plot]'") from None
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


PLOT_KEY = "spacer-bench-memory"  # the PNG text chunk holding the plotted data, as JSON


def plot_data(result: fleet.FleetMemory) -> dict:
    """What :func:`plot` draws: the x values and each line's MiB, as plain data."""
    xs = [p.apps if result.x == "apps" else p.instances for p in result.points]
    lines = {label: [round(m.mib, 3) for m in result.of(label)] for label in result.labels}
    if all(m.split is not None for m in result.aligned):
        lines["runtime (aligned)"] = [round(m.split.runtime * fleet.PAGE_SIZE / 2**20, 3)
                                      for m in result.aligned]
    return {"version": fleet.JSON_VERSION, "x": result.x, "xs": xs, "mib": lines}


def plot(result: fleet.FleetMemory, path: Path) -> None:
    """MiB used against the number of apps (a sweep) or of instances per app, original
    vs aligned, and the aligned set's runtime memory dashed, as a PNG. The plotted
    figures are also stored in the PNG, as JSON in a text chunk named :data:`PLOT_KEY`."""
    plt = _matplotlib()
    data = plot_data(result)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = {"original": {"marker": "o"}, "aligned": {"marker": "s"},
              "pooled": {"marker": "^"}, "original_no_ksm": {"marker": "o", "linestyle": ":"},
              "pooled_no_ksm": {"marker": "^", "linestyle": ":"},
              "runtime (aligned)": {"linestyle": "--", "color": "grey"}}
    for label, mib in data["mib"].items():
        name = ("aligned: runtime memory (not image content)"
                if label.startswith("runtime") else
                f"{label.removesuffix('_no_ksm')} images"
                + (", no KSM" if label.endswith("_no_ksm") else ""))
        ax.plot(data["xs"], mib, label=name, **styles[label])
    if result.x == "apps":
        ax.set_xlabel("number of different apps (one guest each)")
        ax.set_title("Host memory of the running fleet, after KSM")
    else:
        ax.set_xlabel("instances per app")
        ax.set_title(f"{len(result.apps)} apps: host memory after KSM")
    ax.set_ylabel(f"host memory used (MiB; {result.memory_mib} MiB guests)")
    _save_png(plt, fig, ax, "upper left", path, PLOT_KEY, data)


def _save_png(plt, fig, ax, legend: str, path: Path, key: str, data: dict) -> None:
    """Axes from 0, grid and legend; the PNG written atomically, with ``data`` as JSON
    in its text chunk ``key``."""
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend, fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata={key: json.dumps(data)})
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


TIMELINE_KEY = "spacer-bench-memory-timeline"


def timeline_plot_data(tl: timeline.Timeline) -> dict:
    """What :func:`plot_timeline` draws: per series, its times and MiB."""
    return {"version": fleet.JSON_VERSION, "guests": tl.guests,
            "lines": [{"set": s.set, "rate": s.rate, "t": s.t,
                       "mib": [round(f * fleet.PAGE_SIZE / 2**20, 3) for f in s.frames]}
                      for s in tl.series]}


def plot_timeline(tl: timeline.Timeline, path: Path) -> None:
    """MiB held against seconds since the guests started, one line per set and KSM
    rate (colour: set; dashed: the kernel's default rate). The data is stored in the
    PNG as JSON in a text chunk named :data:`TIMELINE_KEY`."""
    plt = _matplotlib()
    data = timeline_plot_data(tl)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = {"original": "tab:blue", "aligned": "tab:orange", "pooled": "tab:green"}
    for line in data["lines"]:
        ax.plot(line["t"], line["mib"], color=colours.get(line["set"]),
                linestyle="--" if line["rate"] == "default" else "-",
                label=f"{line['set']} images, KSM rate {line['rate']}")
    ax.set_xlabel("seconds since the guests started")
    ax.set_ylabel("host memory used (MiB)")
    ax.set_title(f"Time to sharing: {tl.guests} guests per set")
    _save_png(plt, fig, ax, "upper right", path, TIMELINE_KEY, data)


def png_text(path: Path) -> dict[str, str]:
    """The text chunks (``tEXt``) of a PNG file, to read back what :func:`plot` stored."""
    raw = Path(path).read_bytes()
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        raise BadInput("not a PNG file", path)
    chunks, pos = {}, 8
    while pos + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + length]
        if kind == b"tEXt" and b"\0" in body:
            key, value = body.split(b"\0", 1)
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        pos += 12 + length
    return chunks


def main(argv: list[str] | None = None) -> int:
    """``python -m spacer.bench.memory memory ...``: the same as ``spacer bench memory``."""
    from spacer.bench.commands import add_parsers

    parser = argparse.ArgumentParser(prog="spacer bench")
    add_parsers(parser.add_subparsers(dest="bench", required=True))
    ns = parser.parse_args(argv)
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
