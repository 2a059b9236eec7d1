"""doit tasks ``pic:<app>`` (``--aslr 1`` and up): the app's libraries rebuilt as
position-independent code, their GOT relocations aimed at per-library tables."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.pic import pic_inputs, pic_outputs, run_pic
from spacer.tasks.common import Pipeline, group, one_line


def tasks(p: Pipeline) -> Iterator[dict]:
    yield group("pic", "rebuild each app's libraries as position-independent code with "
                "indirection tables (--aslr 1, 2)")
    for app in p.apps:
        out = p.layout.pic_dir(app.name)
        yield {"basename": "pic", "name": app.name,
               "actions": [(one_line(run_pic), [p.layout.extract(app.name),
                                                p.layout.pic(app.name), out,
                                                p.layout.compile_cache, p.log])],
               # The records, sources and configuration the rebuild reads, too.
               "file_dep": [str(p.layout.extract(app.name)),
                            *pic_inputs(app, p.layout.pic_inputs_memo(app.name))],
               "targets": [str(p.layout.pic(app.name)),
                           *pic_outputs(p.objects[app.name], out)],
               "config": p.settings("pic"), "clean": True}
