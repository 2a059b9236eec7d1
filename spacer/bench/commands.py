"""The ``spacer bench`` subcommands' arguments, apart from the benchmarks themselves:
building the command line imports none of them (nor rich, doit or matplotlib), so
``spacer --help`` stays fast; a chosen benchmark's module is imported when it runs."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from spacer.measure.ksm import DEFAULT_ROOT as KSM_ROOT
from spacer.run.jobs import jobs_arg


def _run(name: str) -> Callable[[argparse.Namespace], int]:
    def run(ns: argparse.Namespace) -> int:
        return importlib.import_module(f"spacer.bench.{name}").run(ns)
    return run


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Every benchmark's subcommand: align, runtime, changes, memory, fuzz, interrupt."""
    for add in (_align, _runtime, _changes, _memory, _fuzz, _interrupt):
        add(subparsers)


def _align(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "align", help="time a full align, a no-op rerun and a one-app change",
        description="Build the demo fleet (plus N generated apps) in a scratch folder, then "
                    "time a full align, a second run with nothing changed, and a run after "
                    "one app's code changed; print the ratios, the time of each stage, "
                    "peak memory and the static page sharing. With -w, time a full align of "
                    "that workspace into a scratch output folder instead.")
    p.add_argument("--count", type=int, nargs="+", default=[0, 100], metavar="N",
                   help="generated apps on top of the demo ones: one fleet each, all measured "
                        "in this run (default 0 100); the largest is built once and the "
                        "others are its first apps")
    p.add_argument("-w", "--workspace", type=Path, metavar="DIR",
                   help="time a full align of this workspace (only read) instead of a demo "
                        "fleet")
    p.add_argument("-u", "--uks", nargs="+", metavar="APP", help="with -w: only these apps")
    p.add_argument("-j", "--jobs", type=jobs_arg, default=1, metavar="N",
                   help="tasks at a time (default 1); with N > 1 the full align also runs "
                        "with -j 1 in the same run and the ratio is printed")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="run in DIR and keep it (default: a temporary folder)")
    p.add_argument("--aslr", type=int, choices=(0, 1, 2), default=0,
                   help="align with --aslr N (default 0); with 1 or 2 the stage table shows "
                        "the position-independent rebuild (pic), and its compiler commands "
                        "are counted")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    p.set_defaults(func=_run("align"))


def _runtime(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "runtime", help="time a call-heavy app, original vs --aslr 0, 1, 2",
        description="Build a call-heavy demo app, align it with each --aslr mode, boot "
                    "every image RUNS times and print guest cycles (TSC) and boot-to-exit "
                    "times as ratios to the original.")
    p.add_argument("--runs", type=int, default=5, metavar="N",
                   help="boots per image (default 5; the median counts)")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="run in DIR and keep it (default: a temporary folder)")
    p.set_defaults(func=_run("runtime"))


def _changes(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "changes", help="relinks caused by adding, removing and rebuilding apps",
        description="Align the demo fleet plus N generated apps, then add, remove and "
                    "rebuild apps one at a time; print the apps relinked and the existing "
                    "images changed by each, and ten additions against a fresh plan.")
    p.add_argument("--count", type=int, default=90, metavar="N",
                   help="generated apps on top of the demo ones (default 90)")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="run in DIR and keep it (default: a temporary folder)")
    p.set_defaults(func=_run("changes"))


def _memory(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "memory", help="measure the memory a running fleet uses (KSM), original vs aligned",
        description="Boot K instances of every app, original then aligned, let Linux KSM "
                    "merge identical pages, and report the physical frames the guests hold, "
                    "split into image pages shared across guests, image pages of one guest, "
                    "QEMU's firmware (BIOS, ROM, ACPI blocks) and runtime memory. With --sweep, measure a growing number of different "
                    "apps instead (the first N by name, one instance each). Needs root. Every "
                    "KSM and transparent-huge-page setting changed is restored, even on Ctrl-C.")
    p.add_argument("-w", "--workspace", type=Path, required=True, metavar="DIR",
                   help="the workspace that was aligned")
    p.add_argument("-o", "--out", "--output", dest="out", type=Path, metavar="OUT",
                   help="spacer's output folder holding manifest.json (default DIR/.spacer)")
    p.add_argument("--instances", type=int, metavar="K",
                   help="guests per app (default 4; 1 with --sweep)")
    p.add_argument("--apps", nargs="+", metavar="APP", help="only these apps (default all)")
    p.add_argument("--sweep", type=int, nargs="+", metavar="N",
                   help="measure the first N apps by name for each N (e.g. 10 25 50 100), "
                        "original then aligned, in one run")
    p.add_argument("--memory", type=int, default=32, metavar="MiB",
                   help="RAM per guest (default 32)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="longest wait for KSM to settle, per set (default 120)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--json-out", type=Path, metavar="FILE",
                   help="also write the figures as JSON to FILE (schema in the README)")
    p.add_argument("--plot", type=Path, metavar="FILE",
                   help="plot MiB used to a PNG: against the number of apps with --sweep, "
                        "else measure 1, 2, 4, ... K instances and plot against them")
    p.add_argument("--ksm-zero-pages", action="store_true",
                   help="run KSM with use_zero_pages=1: empty pages map the kernel's zero "
                        "page instead of merged pages of at most max_page_sharing sharers")
    p.add_argument("--lean", action="store_true",
                   help="run QEMU lean: -machine pc,acpi=off (no ACPI table blocks) on top "
                        "of -nodefaults; only for images that boot without ACPI (real "
                        "Unikraft 0.17 images do not)")
    p.add_argument("--pool", action="store_true",
                   help="a fleet aligned with -c: measure five sets, original without and "
                        "with KSM, aligned with KSM, and booted from the pool without and "
                        "with KSM (and the pooled set in the timeline)")
    p.add_argument("--timeline", action="store_true",
                   help="also sample each set's frames every second after its guests start, "
                        "at the kernel's default KSM rate and at the bench's fast one")
    p.add_argument("--timeline-seconds", type=float, default=30.0, metavar="S",
                   help="how long each timeline series lasts (default 30)")
    p.add_argument("--timeline-plot", type=Path, metavar="FILE",
                   help="with --timeline: plot the series to a PNG")
    p.add_argument("--sysfs", type=Path, default=KSM_ROOT, metavar="ROOT",
                   help=f"where KSM and THP settings live (default {KSM_ROOT})")
    p.set_defaults(func=_run("memory"))


def _fuzz(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fuzz", help="feed damaged objects, images, scripts and records to the readers",
        description="Build two demo apps in a scratch folder (or use -w), then damage one "
                    "of their files at a time (cut short, bits flipped, header fields, "
                    "another machine, garbage, edited tokens) and read it as spacer align "
                    "would. Every input must be read or refused with one line; exits 4 and "
                    "lists the inputs that raised anything else.")
    p.add_argument("--count", type=int, default=2000, metavar="N",
                   help="inputs to try (default 2000)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed; input I of seed S is always the same (default 0)")
    p.add_argument("--only", type=int, metavar="I", help="replay input I only")
    p.add_argument("-w", "--workspace", type=Path, metavar="DIR",
                   help="take the files from DIR/apps/<app> of a built demo fleet")
    p.add_argument("--app", default="hashsum", help="the app whose files are damaged "
                   "(default hashsum)")
    p.set_defaults(func=_run("fuzz"))


def _interrupt(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "interrupt", help="stop aligns with SIGINT/SIGTERM/SIGKILL, check the next run",
        description="Build three demo apps in a scratch folder (or use -w), align them "
                    "once as a reference, then start aligns and stop them at random points "
                    "with SIGINT, SIGTERM and SIGKILL in turn. After each, the next align "
                    "must finish with byte-identical images and leave no scratch. Exits 4 "
                    "if any did not.")
    p.add_argument("--runs", type=int, default=30, metavar="N",
                   help="interrupted runs (default 30)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the delays")
    p.add_argument("-w", "--workspace", type=Path, metavar="DIR",
                   help="a built workspace to align (it is only read)")
    p.add_argument("-j", "--jobs", type=jobs_arg, metavar="N",
                   help="tasks at a time in each align (default: spacer align's, the "
                        "number of cores)")
    p.set_defaults(func=_run("interrupt"))
