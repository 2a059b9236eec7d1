"""The ``spacer`` command.

    spacer fleet  [-w DIR] [--count N]     build the demo fleet (incremental)
    spacer boot   IMAGE [--append ARGS]    boot one image under QEMU, exit with its code
    spacer align  [-w DIR] [-o OUT] ...    relink a fleet so shared libraries share pages
    spacer plan   --diff [-w DIR] [-o OUT] what a replan would relink and gain
    spacer report [-w DIR] [-o OUT]        show the last align's sharing figures
    spacer bench  align|runtime|changes|memory|fuzz|interrupt ...
                                           measure spacer, the tables' run-time cost,
                                           a changing fleet, the memory a fleet uses;
                                           damaged inputs, interrupted runs

``align`` and ``fleet`` run the same doit tasks as ``doit align`` / ``doit fleet``
from the project root, with the same state file, so both entry points agree on
what is up to date.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from spacer import __version__
from spacer.core.errors import (
    BAD_INPUT,
    INTERNAL,
    INTERRUPTED,
    SpacerError,
    internal_error_line,
)
from spacer.core.planner.model import HEADROOM
from spacer.run.settings import DEMO_WORKSPACE, Settings

err = Console(stderr=True, highlight=False, soft_wrap=True)


def say(line: str) -> None:
    """Print one ``spacer: ...`` line on stderr, as plain text (no rich markup: a path
    such as ``[/abs/path]`` must come out as it is)."""
    err.print(f"spacer: {line}", markup=False)


def _int(text: str) -> int:
    """Decimal or 0x-prefixed hexadecimal, as the seed's ``--loc`` accepted."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (try 0x200000)") from None


def _settings(ns: argparse.Namespace, plan: dict | None = None) -> Settings:
    ws = ns.workspace
    return Settings(workspace=ws or DEMO_WORKSPACE, out=getattr(ns, "out", None),
                    demo=ws is None, count=getattr(ns, "count", 0),
                    apps=tuple(getattr(ns, "uks", None) or ()), plan=plan or {},
                    verbose=getattr(ns, "verbose", False))


def cmd_fleet(ns: argparse.Namespace) -> int:
    from spacer.run.loader import run_tasks

    settings = Settings(workspace=ns.workspace or DEMO_WORKSPACE, demo=True, count=ns.count,
                        verbose=ns.verbose)
    code, _, failures = run_tasks(settings, ["fleet"], jobs=ns.jobs, style=_style(ns))
    return _finish(code, failures, f"demo fleet in {settings.workspace.resolve()}/apps",
                   ns.verbose)


def _style(ns: argparse.Namespace) -> str:
    return "plain" if getattr(ns, "plain", False) else "auto"


def cmd_boot(ns: argparse.Namespace) -> int:
    from spacer.measure.qemu import boot

    result = boot(ns.image, append=ns.append, timeout=ns.timeout)
    sys.stdout.write(result.output)
    if result.timed_out:
        say(f"{ns.image}: no exit after {ns.timeout:g} s (timed out)")
        return 124
    if result.exit_code is None:
        say(f"{ns.image}: the guest stopped without an exit code "
            f"(it crashed or halted; QEMU status {result.qemu_status})")
        return 125
    return result.exit_code


def cmd_align(ns: argparse.Namespace) -> int:
    from spacer.run.loader import run_tasks

    plan = {"align": ns.align, "group": ns.group, "copy_objs": ns.copy_objs, "loc": ns.loc,
            "aslr": ns.aslr, "same_mapping": ns.aslr_same_mapping, "headroom": ns.headroom}
    if ns.aslr_same_mapping and ns.aslr < 2:
        say("--aslr-same-mapping only applies to --aslr 2")
        return BAD_INPUT
    if ns.aslr_map:
        say("--aslr-map is not offered: spacer's rebuilt code reaches its read-only data "
            "(strings, jump tables) relative to itself, so read-only data kept at fixed "
            "addresses while code moves would make those pages differ; --aslr 2 moves "
            "them together and keeps both shared (README: Options)")
        return BAD_INPUT
    if ns.custom_loader:
        say("-c/--custom-loader is not needed: spacer already places each image's own "
            "libraries after the shared slots of each kind, outside the shared range "
            "(README: Options)")
        return BAD_INPUT
    settings = replace(_settings(ns, plan), seed=ns.seed, replan=ns.replan)
    # Say what is wrong with the workspace and -o before doit starts or creates anything.
    from spacer.core.readers.workspace import check_output_folder
    from spacer.run.loader import selected_apps

    check_output_folder(settings.out_dir, selected_apps(settings))
    if ns.relink_only and not (settings.out_dir / "layout.json").is_file():
        say(f"{settings.out_dir}: no plan yet (run spacer align first)")
        return BAD_INPUT
    targets = ["align"] if not settings.demo else ["fleet", "align"]
    code, _, failures = run_tasks(settings, targets, relink_only=ns.relink_only,
                                  jobs=ns.jobs, style=_style(ns))
    if code == 0:
        from spacer.views.report import show_report

        show_report(settings.out_dir)
    return _finish(code, failures, None, ns.verbose)


def cmd_report(ns: argparse.Namespace) -> int:
    from spacer.core.stages.report import check_report_current
    from spacer.views.report import show_report

    settings = _settings(ns)
    check_report_current(settings.out_dir)  # refuse a report the last align left stale
    show_report(settings.out_dir)
    return 0


def cmd_plan(ns: argparse.Namespace) -> int:
    """``spacer plan --diff``: what a fresh plan would relink and gain, measured by
    aligning the fleet afresh into a scratch folder (the outputs are not touched)."""
    import tempfile

    from spacer.core.outputs.atomic import read_json
    from spacer.run.loader import run_tasks

    settings = _settings(ns)
    layout = settings.out_dir / "layout.json"
    if not layout.is_file():
        say(f"{settings.out_dir}: no layout yet (run spacer align first)")
        return BAD_INPUT
    options = read_json(layout)["options"]
    with tempfile.TemporaryDirectory(prefix="spacer-replan-") as tmp:
        fresh = replace(settings, out=Path(tmp), plan=options, replan=True)
        code, _, failures = run_tasks(fresh, ["align"])
        if code != 0:
            return _finish(code, failures, None, ns.verbose)
        apps = sorted(p.stem for p in (Path(tmp) / "plan").glob("*.json"))
        moved = [app for app in apps
                 if not (settings.out_dir / "plan" / f"{app}.json").is_file()
                 or read_json(settings.out_dir / "plan" / f"{app}.json")
                 != read_json(Path(tmp) / "plan" / f"{app}.json")]
        now = read_json(settings.out_dir / "report.json")["aligned"]["readonly"]["distinct"]
        after = read_json(Path(tmp) / "report.json")["aligned"]["readonly"]["distinct"]
    print(f"a replan would relink {len(moved)} of {len(apps)} apps"
          f"{': ' + ', '.join(moved) if moved else ''}")
    print(f"read-only distinct pages: {now} now, {after} after a replan "
          f"({now - after:+d} pages)")
    return 0


def _finish(code: int, failures: list, done: str | None, verbose: bool = False) -> int:
    """Exit status of a doit run; on failure print its first failure, once."""
    if code == 0:
        if done:
            err.print("[green]done:[/] ", end="")
            err.print(done, markup=False)
        return 0
    if not failures:
        say("the run failed (see above)")
        return INTERNAL
    first = failures[0]
    if verbose and first.traceback:
        err.print(first.traceback.rstrip(), markup=False)
    say(first.line)
    return first.exit_code


def _workspace_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-w", "--workspace", type=Path, metavar="DIR",
                   help=f"workspace with apps/<app>/build/ (default: the demo fleet, built in "
                        f"./{DEMO_WORKSPACE})")


def _run_args(p: argparse.ArgumentParser) -> None:
    from spacer.run.loader import default_jobs, jobs_arg

    p.add_argument("-j", "--jobs", type=jobs_arg, default=default_jobs(), metavar="N",
                   help="run N tasks at a time (default: the number of cores, "
                        f"{default_jobs()} here); the outputs do not depend on N")
    p.add_argument("--plain", action="store_true",
                   help="one line per stage instead of the live progress display "
                        "(the default when the output is not a terminal)")


def _verbose_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show the traceback of an internal error")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="spacer", description="Relink a fleet of Unikraft unikernels so that every library "
        "several images contain sits at the same page-aligned address with identical bytes, "
        "and their memory pages can be shared (KSM).")
    top.add_argument("--version", action="version", version=f"spacer {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fleet", help="build the demo fleet of mini-unikernels",
                       description="Build the demo fleet into DIR/apps/<app>/build/, "
                       "incrementally, with Unikraft's build layout and .cmd records.")
    _workspace_arg(p)
    p.add_argument("--count", type=int, default=0, metavar="N",
                   help="add N generated apps (deterministic) for scale tests")
    _run_args(p)
    _verbose_arg(p)
    p.set_defaults(func=cmd_fleet)

    p = sub.add_parser("boot", help="boot one image under QEMU",
                       description="Boot IMAGE under QEMU, print its serial console and exit "
                       "with the app's exit code (124 on timeout).")
    p.add_argument("image", type=Path, metavar="IMAGE")
    p.add_argument("--append", metavar="ARGS", help="kernel command line")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="give up after S seconds (default 30)")
    _verbose_arg(p)
    p.set_defaults(func=cmd_boot)

    p = sub.add_parser("align", help="plan one layout for the fleet and relink every image",
                       description="Extract, plan, write linker scripts, relink, verify and "
                       "report, as incremental doit tasks. Outputs go to OUT (default "
                       "DIR/.spacer); build folders are only read.")
    _workspace_arg(p)
    p.add_argument("-o", "--out", type=Path, metavar="OUT",
                   help="output folder (default DIR/.spacer)")
    p.add_argument("-u", "--uks", nargs="+", metavar="APP",
                   help="only these apps (default all; at least two)")
    p.add_argument("-l", "--loc", type=_int, metavar="ADDR",
                   help="start address of the shared code area, e.g. 0x110000 "
                   "(default: the page after the largest boot code)")
    p.add_argument("-a", "--align", action=argparse.BooleanOptionalAction, default=True,
                   help="page-align every shared slot (default); --no-align packs them")
    p.add_argument("-g", "--group", action=argparse.BooleanOptionalAction, default=True,
                   help="one slot for the shared libraries that the same images hold "
                   "(default); --no-group gives each library its own")
    p.add_argument("--copy-objs", action="store_true",
                   help="link every image with the same canonical object for a shared "
                   "library (the first app's; never copied over the user's files)")
    p.add_argument("--aslr", type=int, choices=(0, 1, 2), default=0,
                   help="1: rebuild the libraries as position-independent code from their "
                   "recorded commands and send every reference that leaves a library through "
                   "a table of its own, so shared library pages stay identical even next to "
                   "variant libraries; 2: also give every image its own random placement of "
                   "its shared libraries (default 0: relink the objects as built)")
    p.add_argument("--seed", type=_int, default=0, metavar="N",
                   help="--aslr 2: seed of the placements (default 0; the same seed gives "
                   "the same images)")
    p.add_argument("--aslr-same-mapping", action="store_true",
                   help="--aslr 2: keep the libraries in the order of the --aslr 1 layout and "
                   "move them by random gaps only")
    p.add_argument("--aslr-map", action="store_true",
                   help="the research tool's fixed map of read-only data under ASLR: not "
                   "offered, and refused with the reason")
    p.add_argument("-c", "--custom-loader", action="store_true",
                   help="the research tool's move of each image's own libraries out of the "
                   "shared range: spacer's layout already does it; refused with the reason")
    p.add_argument("--headroom", type=float, default=HEADROOM, metavar="F",
                   help=f"room for each shared library to grow in a rebuild without moving, "
                   f"as a fraction of its size (default {HEADROOM})")
    p.add_argument("--replan", action="store_true",
                   help="plan from scratch; by default the previous layout is kept as far as "
                   "it can be, so only the apps whose libraries must move are relinked")
    p.add_argument("--relink-only", action="store_true",
                   help="relink with the existing plan and linker scripts")
    _run_args(p)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show every command run, and the traceback of an internal error")
    p.set_defaults(func=cmd_align)

    p = sub.add_parser("plan", help="what a fresh plan would relink and gain",
                       description="With --diff: align the fleet afresh (--replan) into a "
                       "scratch folder and print which apps a replan would relink and the "
                       "read-only pages it would gain. The outputs are not touched.")
    _workspace_arg(p)
    p.add_argument("-o", "--out", type=Path, metavar="OUT", help="output folder")
    p.add_argument("--diff", action="store_true", required=True,
                   help="compare the current layout with a fresh plan")
    _verbose_arg(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("report", help="show the sharing figures of the last align")
    _workspace_arg(p)
    p.add_argument("-o", "--out", type=Path, metavar="OUT", help="output folder")
    _verbose_arg(p)
    p.set_defaults(func=cmd_report)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench",
                                                                       required=True)
    from spacer.bench import align as bench_align
    from spacer.bench import changes as bench_changes
    from spacer.bench import fuzz as bench_fuzz
    from spacer.bench import interrupt as bench_interrupt
    from spacer.bench import memory as bench_memory
    from spacer.bench import runtime as bench_runtime

    bench_align.add_parser(bench)
    bench_runtime.add_parser(bench)
    bench_changes.add_parser(bench)
    bench_memory.add_parser(bench)
    bench_fuzz.add_parser(bench)
    bench_interrupt.add_parser(bench)
    return top


def _interrupt(_signum: int, _frame: object) -> None:
    # doit's -j workers are stopped and joined by spacer.engine.workers.
    raise KeyboardInterrupt


def _stop_signals_interrupt() -> dict:
    """SIGTERM and SIGHUP act like Ctrl-C, so scratch folders are removed and guests
    stopped on the way out; returns the handlers replaced (main thread only)."""
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _interrupt)
        except ValueError:
            pass
    return previous


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(argv)
    previous = _stop_signals_interrupt()
    try:
        return ns.func(ns)
    except SpacerError as exc:
        say(exc.line())
        return exc.exit_code
    except KeyboardInterrupt:
        say("interrupted")
        return INTERRUPTED
    except Exception as exc:
        if getattr(ns, "verbose", False):
            err.print(traceback.format_exc().rstrip(), markup=False)
        say(internal_error_line(exc))
        return INTERNAL
    finally:
        if argv is None:
            # The program (the spacer command, python -m spacer): the work is done or
            # given up, so a signal now could only turn its status into a kill.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
        else:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
