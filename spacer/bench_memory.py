"""``spacer bench memory``: the host memory a running fleet uses, original vs aligned.

Boots K guests of every app from ``manifest.json``, first the original images,
then (after stopping them) the aligned ones, lets KSM merge, and prints the
physical frames each set really holds next to the static prediction.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from spacer.core import ksm, memory
from spacer.core.errors import INTERRUPTED, SpacerError, ToolMissing


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``memory`` to the ``spacer bench`` subcommands; its handler is :func:`run`."""
    p = subparsers.add_parser(
        "memory", help="measure the memory a running fleet uses (KSM), original vs aligned",
        description="Boot K instances of every app, original then aligned, let Linux KSM "
                    "merge identical pages, and report the physical frames the guests hold "
                    "(resident mergeable pages - pages_sharing). Needs root. Every KSM and "
                    "transparent-huge-page setting changed is restored, even on Ctrl-C.")
    p.add_argument("-w", "--workspace", type=Path, required=True, metavar="DIR",
                   help="the workspace that was aligned")
    p.add_argument("-o", "--output", type=Path, metavar="OUT",
                   help="spacer's output folder holding manifest.json (default DIR/.spacer)")
    p.add_argument("--instances", type=int, default=4, metavar="K",
                   help="guests per app (default 4)")
    p.add_argument("--apps", nargs="+", metavar="APP", help="only these apps (default all)")
    p.add_argument("--memory", type=int, default=32, metavar="MiB",
                   help="RAM per guest (default 32)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="longest wait for KSM to settle, per set (default 120)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", type=Path, metavar="FILE",
                   help="also measure 1, 2, 4, ... K instances and plot them to a PNG")
    p.add_argument("--sysfs", type=Path, default=ksm.DEFAULT_ROOT, metavar="ROOT",
                   help=f"where KSM and THP settings live (default {ksm.DEFAULT_ROOT})")
    p.set_defaults(func=run)
    return p


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


def run(ns: argparse.Namespace) -> int:
    """Handler of ``spacer bench memory``; returns the exit status."""
    err = Console(stderr=True)
    out = Console()
    try:
        if ns.instances < 1:
            raise SpacerError("--instances must be at least 1")
        manifest_path = (ns.output or ns.workspace / ".spacer") / "manifest.json"
        manifest = memory.load_manifest(manifest_path, ns.apps)
        memory.qemu_available()
        if ns.plot:
            _matplotlib()  # fail before a long run, not after it
        counts = memory.instance_steps(ns.instances) if ns.plot else [ns.instances]
        previous = _on_stop_signals(_stop)
        try:
            with err.status("starting") as status, ksm.ksm_session(ns.sysfs) as session:
                result = memory.measure_fleet(session, manifest, counts, ns.memory, ns.timeout,
                                              progress=lambda msg: status.update(msg))
        finally:
            _restore_signals(previous)
    except KeyboardInterrupt:
        print("spacer: interrupted: guests stopped, KSM and THP settings restored",
              file=sys.stderr)
        return INTERRUPTED
    except SpacerError as exc:
        print(f"spacer: {exc}", file=sys.stderr)  # one line, never wrapped, no markup
        return exc.exit_code
    if ns.json:
        out.print_json(json.dumps(memory.as_json(result)))
    else:
        out.print(table(result))
    if ns.plot:
        plot(result, ns.plot)
        err.print(f"plot written to {ns.plot}", markup=False)
    return 0


# Guests (instances x apps) are in the title and in --json, not a column: 80 columns.
COLUMNS = ("set", "instances", "frames used", "frames saved", "MiB", "aligned / original",
           "static prediction", "KSM wait")


def table(result: memory.FleetMemory) -> Table:
    """The measurements as a table that fits 80 columns (what rich assumes when the
    output is piped) and never cuts a header: headers wrap between words, and no
    column gets narrower than its longest header word."""
    rows = []
    unstable = False
    for orig, ali in zip(result.original, result.aligned, strict=True):
        for m in (orig, ali):
            ratio = f"{ali.frames / orig.frames:.3f}" if m is ali and orig.frames else ""
            wait = f"{m.ksm_seconds:.1f} s" + ("" if m.stable else "*")
            unstable = unstable or not m.stable
            rows.append((m.label, str(m.instances), str(m.frames), str(m.frames_saved),
                         f"{m.mib:.1f}", ratio, str(result.predicted_pages(m.label)), wait))
    t = Table(title=f"Memory of the running fleet ({len(result.apps)} apps, "
                    f"{result.memory_mib} MiB per guest, 4 KiB frames)",
              box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, col in enumerate(COLUMNS):
        # As wide as the longest header word or cell: headers wrap between words.
        width = max(*(len(word) for word in col.split()), *(len(r[i]) for r in rows))
        t.add_column(col, justify="left" if i == 0 else "right", width=width,
                     overflow="fold")
    for row in rows:
        t.add_row(*row)
    t.caption = ("frames used = resident mergeable guest pages - KSM pages_sharing; "
                 "static prediction = distinct page contents of the set's images"
                 + ("; * KSM had not settled when measured" if unstable else ""))
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


def plot(result: memory.FleetMemory, path: Path) -> None:
    """Memory used against instances per app, original vs aligned, as a PNG."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, series in (("original", result.original), ("aligned", result.aligned)):
        ax.plot([m.instances for m in series], [m.mib for m in series], marker="o", label=label)
    ax.set_xlabel("instances per app")
    ax.set_ylabel("host memory used (MiB, after KSM)")
    ax.set_title(f"{len(result.apps)} apps: frames held by the guests")
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m spacer.bench_memory``) until ``spacer bench`` exists."""
    parser = argparse.ArgumentParser(prog="spacer bench")
    add_parser(parser.add_subparsers(dest="bench", required=True))
    ns = parser.parse_args(argv)
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
