"""What a recorded compile read: the dependency list the build wrote, and the
configuration options its sources test.

gcc's ``-MD`` (Unikraft passes ``-Wp,-MD,<dir>/.<object>.d``) writes a make rule,
``obj.o: src.c a.h b.h``. Unikraft, like Linux's Kbuild, then runs ``fixdep`` over
it and keeps only the result, ``<dir>/<object stem>.d``::

    cmd_<obj> := ...
    source_<obj> := src.c
    deps_<obj> := \\
      a.h \\
      $(wildcard include/config/libukdebug/printk.h) \\

In that form the configuration header is left out of the list: each ``CONFIG_``
option the sources test appears as a ``$(wildcard include/config/<option>.h)``
marker instead (``libukdebug/printk`` is ``CONFIG_LIBUKDEBUG_PRINTK``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_MARKER = re.compile(r"\$\(wildcard\s+(?:\S*/)?include/config/(\S+?)\.h\)")


@dataclass(frozen=True)
class Dependencies:
    files: tuple[str, ...]  # as the list names them
    options: tuple[str, ...]  # CONFIG_ options the sources test (fixdep's form only)


def dependency_file(argv: list[str]) -> str | None:
    """The make-style dependency list a compile wrote (``-Wp,-MD,F``, ``-MF F``)."""
    for i, arg in enumerate(argv):
        if arg.startswith(("-Wp,-MD,", "-Wp,-MMD,")):
            return arg.split(",", 2)[2]
        if arg == "-MF" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def fixdep_file(listed: Path) -> Path:
    """Where fixdep leaves the list gcc wrote to ``listed``: ``.x.o.d`` -> ``x.d``."""
    name = listed.name.removeprefix(".").removesuffix(".d").removesuffix(".o")
    return listed.with_name(f"{name}.d")


def read_dependencies(path: Path) -> Dependencies | None:
    """The files and options a dependency list names, in either form; None when the
    file cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    options = tuple(sorted({"CONFIG_" + m.replace("/", "_").upper()
                            for m in _MARKER.findall(text)}))
    text = _MARKER.sub(" ", text)
    files: list[str] = []
    for line in text.replace("\\\n", " ").splitlines():
        if line.startswith("cmd_"):
            continue  # fixdep's record of the command itself
        words = line.split()
        if len(words) >= 2 and words[1] == ":=":  # source_X := a, deps_X := a b
            words = words[2:]
        files += [w for w in words if not w.endswith(":") and not w.startswith("$(")
                  and w != ":="]
    return Dependencies(tuple(dict.fromkeys(files)), options)
