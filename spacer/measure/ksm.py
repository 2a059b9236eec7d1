"""Linux KSM (kernel samepage merging) and transparent huge page settings.

Everything goes through a sysfs root (default ``/sys/kernel/mm``) so tests can
pass a fake directory. :func:`ksm_session` switches KSM on for a measurement
and puts every setting it changed back, whatever happens inside it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import BadInput, SpacerError, ToolMissing

DEFAULT_ROOT = Path("/sys/kernel/mm")
RUN = "ksm/run"
SLEEP = "ksm/sleep_millisecs"
PAGES_TO_SCAN = "ksm/pages_to_scan"
USE_ZERO_PAGES = "ksm/use_zero_pages"
SMART_SCAN = "ksm/smart_scan"
ADVISOR = "ksm/advisor_mode"
THP = "transparent_hugepage/enabled"

# Fast enough to merge a few hundred MiB of guests in seconds, slow enough not
# to starve two cores of TCG guests.
FAST_SCAN = {SLEEP: "10", PAGES_TO_SCAN: "5000"}
GENTLE_SCAN = {SLEEP: "20", PAGES_TO_SCAN: "1000"}
KERNEL_DEFAULT_SCAN = {SLEEP: "20", PAGES_TO_SCAN: "100"}  # what a host runs untouched


def selected(value: str) -> str:
    """The chosen word of a sysfs choice file: ``always [madvise] never`` -> ``madvise``."""
    value = value.strip()
    if "[" in value and "]" in value:
        return value[value.index("[") + 1:value.index("]")]
    return value


def read_setting(name: str, root: Path = DEFAULT_ROOT) -> str:
    """One setting under ``root``, as the word in force (brackets resolved)."""
    path = Path(root) / name
    try:
        return selected(path.read_text())
    except FileNotFoundError:
        raise ToolMissing(f"{name} not found", path.parent,
                          "this kernel has no KSM/THP support (CONFIG_KSM)") from None
    except PermissionError:
        raise BadInput("cannot read it", path, "run as root") from None


def write_setting(name: str, value: str, root: Path = DEFAULT_ROOT) -> None:
    path = Path(root) / name
    try:
        path.write_text(f"{value}\n")
    except FileNotFoundError:
        raise ToolMissing(f"{name} not found", path.parent,
                          "this kernel has no KSM/THP support (CONFIG_KSM)") from None
    except PermissionError:
        raise BadInput("not writable", path, "KSM needs root: run as root") from None
    except OSError as exc:
        raise BadInput(f"the kernel refused {value!r}: {exc.strerror}", path) from None


def check_ksm(root: Path = DEFAULT_ROOT) -> None:
    """Fail with one line unless KSM and THP exist under ``root`` and we may change them."""
    root = Path(root)
    for name in (RUN, SLEEP, PAGES_TO_SCAN, THP):
        path = root / name
        if not path.exists():
            raise ToolMissing(f"{name} not found", root,
                              "this kernel has no KSM/THP support (CONFIG_KSM)")
        if not os.access(path, os.W_OK):
            raise BadInput("not writable", path, "KSM needs root: run as root")


@dataclass(frozen=True)
class Counters:
    pages_shared: int  # KSM pages in use (one frame each)
    pages_sharing: int  # further mappings of those pages: frames saved
    full_scans: int


def read_counters(root: Path = DEFAULT_ROOT) -> Counters:
    return Counters(*(int(read_setting(f"ksm/{n}", root))
                      for n in ("pages_shared", "pages_sharing", "full_scans")))


@dataclass(frozen=True)
class Wait:
    counters: Counters
    stable: bool  # False when the timeout came first
    seconds: float
    scans: int  # full scans watched


def wait_stable(root: Path = DEFAULT_ROOT, scans: int = 3, timeout: float = 120.0,
                poll: float = 0.1, min_seconds: float = 1.0,
                probe: Callable[[], object] | None = None) -> Wait:
    """Wait until pages_shared and pages_sharing stay the same over ``scans`` full scans.

    A page merges only after it was seen unchanged in two scans, so one quiet
    scan proves little; several in a row mean KSM has nothing left to merge.
    Small fleets scan in milliseconds, so the quiet stretch must also last
    ``min_seconds``. ``probe``, when given, replaces the global counters as
    what must stay the same: other KSM users on the host then cannot keep the
    wait going.
    """
    def key(c: Counters) -> object:
        return probe() if probe else (c.pages_shared, c.pages_sharing)

    start = time.monotonic()
    first = last = read_counters(root)
    last_key = key(last)
    quiet = 0
    while True:
        time.sleep(poll)
        now = read_counters(root)
        if now.full_scans != last.full_scans:
            now_key = key(now)
            quiet = quiet + 1 if now_key == last_key else 0
            last, last_key = now, now_key
            if quiet >= scans and time.monotonic() - start >= min_seconds:
                return Wait(now, True, time.monotonic() - start, now.full_scans - first.full_scans)
        if time.monotonic() - start > timeout:
            return Wait(now, False, time.monotonic() - start, now.full_scans - first.full_scans)


def thp_mode(root: Path = DEFAULT_ROOT) -> str:
    return read_setting(THP, root)


def snapshot(root: Path = DEFAULT_ROOT) -> dict[str, str]:
    """Every setting :func:`ksm_session` may change, as it is now (absent ones left out)."""
    names = (RUN, SLEEP, PAGES_TO_SCAN, USE_ZERO_PAGES, SMART_SCAN, ADVISOR, THP)
    return {n: read_setting(n, root) for n in names if (Path(root) / n).exists()}


@dataclass
class Session:
    root: Path
    saved: dict[str, str]  # setting -> value before the session, for what we changed

    def counters(self) -> Counters:
        return read_counters(self.root)

    def wait_stable(self, scans: int = 3, timeout: float = 120.0,
                    probe: Callable[[], object] | None = None) -> Wait:
        return wait_stable(self.root, scans, timeout, probe=probe)

    def set(self, settings: dict[str, str]) -> None:
        """Change settings within the session (e.g. the scan rate); the first value of
        each is kept to restore on exit, like those the session began with."""
        for name, value in settings.items():
            before = read_setting(name, self.root)
            if before == value:
                continue
            self.saved.setdefault(name, before)
            write_setting(name, value, self.root)


@contextmanager
def ksm_session(root: Path = DEFAULT_ROOT, fast: bool = True,
                zero_pages: bool = False) -> Iterator[Session]:
    """Run KSM (fast scan rate unless ``fast`` is False) with THP off; restore all on exit.

    THP goes to ``never`` because a huge page makes a guest's resident size
    jump by 2 MiB and KSM does not merge inside it. ``use_zero_pages`` goes to
    0 so merged zero pages show up in ``pages_sharing`` like any other content,
    and each merged page then has at most ``max_page_sharing`` sharers: many zero
    pages take several frames. With ``zero_pages`` it goes to 1, as a host that runs
    many guests may set it: empty pages then map the kernel's one zero page.
    """
    root = Path(root)
    check_ksm(root)
    wanted = {THP: "never", **(FAST_SCAN if fast else GENTLE_SCAN)}
    optional = {USE_ZERO_PAGES: "1" if zero_pages else "0", SMART_SCAN: "0", ADVISOR: "none"}
    wanted.update({n: v for n, v in optional.items() if (root / n).exists()})
    wanted[RUN] = "1"  # last, once the scan rate is set
    session = Session(root, {})
    try:
        for name, value in wanted.items():
            before = read_setting(name, root)
            if before == value:
                continue
            # Save before writing: an interrupted write must still be undone.
            session.saved[name] = before
            write_setting(name, value, root)
        yield session
    finally:
        restore(session.saved, root)


def restore(saved: dict[str, str], root: Path = DEFAULT_ROOT) -> None:
    """Put back ``saved`` settings in reverse order (KSM stops first); try every one."""
    failed: list[str] = []
    for name, value in reversed(list(saved.items())):
        try:
            write_setting(name, value, root)
        except SpacerError:
            failed.append(f"{name}={value}")
    if failed:
        raise BadInput(f"could not restore {', '.join(failed)}", root,
                       "write these values back by hand")
