"""doit tasks ``pic:<app>`` (``--aslr 1`` and up): the app's libraries rebuilt as
position-independent code, their GOT relocations aimed at per-library tables."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.pic import run_pic
from spacer.tasks.common import Pipeline, group, one_line

# What changes a rebuilt object: the compile flags are spacer's own (core.rewrite),
# covered by the code digest; the recorded commands come in through extract.
SETTINGS: dict = {}


def tasks(p: Pipeline) -> Iterator[dict]:
    yield group("pic", "rebuild each app's libraries as position-independent code with "
                "indirection tables (--aslr 1, 2)")
    for app in p.apps:
        yield {"basename": "pic", "name": app.name,
               "actions": [(one_line(run_pic), [p.layout.extract(app.name),
                                                p.layout.pic(app.name),
                                                p.layout.pic_dir(app.name), p.log])],
               "file_dep": [str(p.layout.extract(app.name))],
               "targets": [str(p.layout.pic(app.name))], "config": SETTINGS, "clean": True}
