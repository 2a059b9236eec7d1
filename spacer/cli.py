"""The ``spacer`` command.

    spacer fleet  [-w DIR] [--count N] [--functions N]
                                           build the demo fleet (incremental)
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

from spacer import __version__
from spacer.core.errors import (
    BAD_INPUT,
    INTERNAL,
    INTERRUPTED,
    SpacerError,
    internal_error_line,
)
from spacer.run.settings import DEMO_WORKSPACE, Settings

# Only what every command needs is imported here: ``spacer --help`` must stay fast, so
# doit, rich and the benchmarks are imported by the commands that use them.


def say(line: str) -> None:
    """Print one ``spacer: ...`` line on stderr, as plain text."""
    print(f"spacer: {line}", file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    """A command line that is wrong is one line and exit status 2, as any bad input."""

    def error(self, message: str) -> None:
        say(f"{message} (see {self.prog} --help)")
        raise SystemExit(BAD_INPUT)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds above 0: {text!r}")
    return value


def _settings(ns: argparse.Namespace, plan: dict | None = None) -> Settings:
    ws = ns.workspace
    return Settings(workspace=ws or DEMO_WORKSPACE, out=getattr(ns, "out", None),
                    demo=ws is None, count=getattr(ns, "count", 0),
                    functions=getattr(ns, "functions", 0),
                    apps=tuple(getattr(ns, "uks", None) or ()), plan=plan or {},
                    verbose=getattr(ns, "verbose", False))


def cmd_fleet(ns: argparse.Namespace) -> int:
    from spacer.run.loader import run_tasks

    settings = Settings(workspace=ns.workspace or DEMO_WORKSPACE, demo=True, count=ns.count,
                        functions=ns.functions, verbose=ns.verbose)
    code, _, failures = run_tasks(settings, ["fleet"], jobs=ns.jobs, style=_style(ns))
    return _finish(code, failures, f"demo fleet in {settings.workspace.resolve()}/apps",
                   ns.verbose)


def _style(ns: argparse.Namespace) -> str:
    return "plain" if getattr(ns, "plain", False) else "auto"


def cmd_boot(ns: argparse.Namespace) -> int:
    from spacer.measure.qemu import boot, qemu_argv

    extra: tuple[str, ...] = ()
    if ns.pool:
        from spacer.core.formats.pool import read_pool
        from spacer.measure.pool import check_pool, pool_app, pool_options

        where = _out_dir(ns) / "pool" / "pool.json"
        if not where.is_file():
            say(f"{where}: no pool (run spacer align -c first)")
            return 2
        facts = read_pool(where)
        app = pool_app(facts, str(ns.image), where)
        check_pool(facts, ns.memory, where)
        extra = pool_options(facts, app, ns.memory)
        ns.image = Path(app.image)
    if ns.verbose:  # the QEMU line, for an operator's own launcher
        print(" ".join(qemu_argv(ns.image, ns.memory, ns.append, extra)), file=sys.stderr)
    result = boot(ns.image, append=ns.append, timeout=ns.timeout, memory_mib=ns.memory,
                  extra=extra)
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
    from spacer.core.options import OPTIONS, validate
    from spacer.core.readers.workspace import check_output_folder
    from spacer.run.loader import run_tasks, selected_apps
    from spacer.run.settings import settings_of

    values = validate({o.name: getattr(ns, o.name) for o in OPTIONS if o.flags})
    settings = settings_of(values, verbose=ns.verbose)
    # Say what is wrong with the workspace and -o before doit starts or creates anything.
    check_output_folder(settings.out_dir, selected_apps(settings))
    if settings.relink_only and not (settings.out_dir / "layout.json").is_file():
        say(f"{settings.out_dir}: no plan yet (run spacer align first)")
        return BAD_INPUT
    targets = ["align"] if not settings.demo else ["fleet", "align"]
    code, _, failures = run_tasks(settings, targets, jobs=ns.jobs, style=_style(ns))
    if code == 0:
        from spacer.views.report import show_report

        show_report(settings.out_dir)
    return _finish(code, failures, None, ns.verbose)


def _out_dir(ns: argparse.Namespace) -> Path:
    """The output folder ``report`` and ``plan`` read: -o, or the workspace's, which
    must exist."""
    from spacer.core.readers.workspace import check_workspace

    if ns.out is None and ns.workspace is not None:
        check_workspace(ns.workspace)
    return _settings(ns).out_dir


def cmd_report(ns: argparse.Namespace) -> int:
    from spacer.core.formats.report import check_report_current  # light, not the stage
    from spacer.views.report import show_report

    out = _out_dir(ns)
    check_report_current(out)  # refuse a report the last align left stale
    show_report(out)
    return 0


def cmd_plan(ns: argparse.Namespace) -> int:
    """``spacer plan [--diff]``: what a fresh plan would relink and gain, measured by
    aligning the fleet afresh into a scratch folder (the outputs are not touched, and
    the demo fleet is not rebuilt)."""
    import tempfile

    from spacer.core.formats.layout import read_layout
    from spacer.core.formats.report import read_report
    from spacer.core.options import PLAN_OPTIONS
    from spacer.run.loader import run_tasks

    out = _out_dir(ns)
    if not (out / "layout.json").is_file():
        say(f"{out}: no layout yet (run spacer align first)")
        return BAD_INPUT
    layout = read_layout(out / "layout.json")
    options = layout.options
    current = replace(_settings(ns), demo=False, apps=tuple(layout.apps),
                      plan={k: options[k] for k in PLAN_OPTIONS if k in options},
                      seed=options.get("seed", 0))
    with tempfile.TemporaryDirectory(prefix="spacer-replan-") as tmp:
        fresh = replace(current, out=Path(tmp), replan=True)
        code, _, failures = run_tasks(fresh, ["align"])
        if code != 0:
            return _finish(code, failures, None, ns.verbose)
        # What relink reads of the plan: the slice, or under --aslr 2 the image's map;
        # paths into the scratch folder name the output folder's own files.
        placed = "aslr" if options.get("aslr", 0) >= 2 else "plan"
        apps = sorted(layout.apps)
        moved = [app for app in apps
                 if _placed_text(out / placed / f"{app}.json", out, out)
                 != _placed_text(Path(tmp) / placed / f"{app}.json", Path(tmp), out)]
        now = read_report(out / "report.json").aligned.readonly.distinct
        after = read_report(Path(tmp) / "report.json").aligned.readonly.distinct
    print(f"a replan would relink {len(moved)} of {len(apps)} apps"
          f"{': ' + ', '.join(moved) if moved else ''}")
    print(f"read-only distinct pages: {now} now, {after} after a replan "
          f"({after - now:+d} pages)")
    return 0


def _placed_text(path: Path, root: Path, shown_as: Path) -> str | None:
    return path.read_text().replace(str(root), str(shown_as)) if path.is_file() else None


def _finish(code: int, failures: list, done: str | None, verbose: bool = False) -> int:
    """Exit status of a doit run; on failure print its first failure, once."""
    if code == 0:
        if done:
            print(f"done: {done}", file=sys.stderr)
        return 0
    if not failures:
        say("the run failed (see above)")
        return INTERNAL
    first = failures[0]
    if verbose and first.traceback:
        print(first.traceback.rstrip(), file=sys.stderr)
    say(first.line)
    return first.exit_code


def _workspace_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-w", "--workspace", type=Path, metavar="DIR",
                   help=f"workspace with apps/<app>/build/ (default: the demo fleet, built in "
                        f"./{DEMO_WORKSPACE})")


def _run_args(p: argparse.ArgumentParser) -> None:
    from spacer.run.jobs import default_jobs, jobs_arg

    p.add_argument("-j", "--jobs", type=jobs_arg, default=default_jobs(), metavar="N",
                   help="run N tasks at a time (default: the number of cores, "
                        f"{default_jobs()} here); the outputs do not depend on N")
    p.add_argument("--plain", action="store_true",
                   help="one line per stage instead of the live progress display "
                        "(the default when the output is not a terminal)")


def _verbose_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show the traceback of an internal error")


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command``, the benchmarks' arguments (and what they
    import) are only added when that command is ``bench``."""
    from spacer.core.options import add_arguments

    top = _Parser(
        prog="spacer", description="Relink a fleet of Unikraft unikernels so that every library "
        "several images contain sits at the same page-aligned address with identical bytes, "
        "and their memory pages can be shared (KSM).")
    top.add_argument("--version", action="version", version=f"spacer {__version__}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("fleet", help="build the demo fleet of mini-unikernels",
                       description="Build the demo fleet into DIR/apps/<app>/build/, "
                       "incrementally, with Unikraft's build layout and .cmd records.")
    _workspace_arg(p)
    p.add_argument("--count", type=int, default=0, metavar="N",
                   help="add N generated apps (deterministic) for scale tests")
    p.add_argument("--functions", type=int, default=0, metavar="N",
                   help="add N function apps: small handlers on one shared runtime (HTTP, "
                   "JSON, an expression interpreter), as a FaaS server runs them")
    _run_args(p)
    _verbose_arg(p)
    p.set_defaults(func=cmd_fleet)

    p = sub.add_parser("boot", help="boot one image under QEMU",
                       description="Boot IMAGE under QEMU, print its serial console and exit "
                       "with the app's exit code (124 on timeout). With --pool, IMAGE is an "
                       "app of a fleet aligned with -c, booted from its pool: its loader "
                       "image, with guest RAM mapped from the pool file.")
    p.add_argument("image", type=Path, metavar="IMAGE")
    p.add_argument("--pool", action="store_true",
                   help="boot app IMAGE from the pool of OUT (spacer align -c)")
    _workspace_arg(p)
    p.add_argument("-o", "--out", type=Path, metavar="OUT",
                   help="--pool: the output folder of spacer align -c (default DIR/.spacer)")
    p.add_argument("-m", "--memory", type=int, default=32, metavar="MIB",
                   help="guest RAM in MiB (default 32)")
    p.add_argument("--append", metavar="ARGS", help="kernel command line")
    p.add_argument("--timeout", type=_positive, default=30.0, metavar="S",
                   help="give up after S seconds (default 30)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the QEMU command line (to stderr) before booting, and the "
                   "traceback of an internal error")
    p.set_defaults(func=cmd_boot)

    p = sub.add_parser("align", help="plan one layout for the fleet and relink every image",
                       description="Extract, plan, write linker scripts, relink, verify and "
                       "report, as incremental doit tasks. Outputs go to OUT (default "
                       "DIR/.spacer); build folders are only read.")
    add_arguments(p)  # spacer.core.options: the options doit align takes too
    _run_args(p)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show every command run, and the traceback of an internal error")
    p.set_defaults(func=cmd_align)

    p = sub.add_parser("plan", help="what a fresh plan would relink and gain",
                       description="Align the fleet afresh (--replan, with the options the "
                       "layout records) into a scratch folder and print which apps a replan "
                       "would relink and the read-only pages it would gain. The outputs "
                       "and the builds are not touched.")
    _workspace_arg(p)
    p.add_argument("-o", "--out", type=Path, metavar="OUT", help="output folder")
    p.add_argument("--diff", action="store_true",
                   help="compare the current layout with a fresh plan (what plan does)")
    _verbose_arg(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("report", help="show the sharing figures of the last align",
                       description="Print the table of the last align's static page "
                       "sharing (report.json), original against aligned, with its legend. "
                       "A report that an align which failed or was interrupted left behind "
                       "is refused.")
    _workspace_arg(p)
    p.add_argument("-o", "--out", type=Path, metavar="OUT", help="output folder")
    _verbose_arg(p)
    p.set_defaults(func=cmd_report)

    bench = sub.add_parser("bench", help="benchmarks",
                           description="Measure spacer and the fleets it makes.")
    if command in (None, "bench"):
        from spacer.bench.commands import add_parsers

        add_parsers(bench.add_subparsers(dest="bench", required=True, parser_class=_Parser))
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
    words = sys.argv[1:] if argv is None else argv
    try:
        ns = parser(words[0] if words and not words[0].startswith("-") else None
                    ).parse_args(argv)
    except SystemExit as done:  # --help, --version, or a wrong command line (one line)
        return done.code if isinstance(done.code, int) else BAD_INPUT
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
            print(traceback.format_exc().rstrip(), file=sys.stderr)
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
