"""doit task ``report``: static page sharing of the original and the aligned fleet,
and the manifest of images."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.report import run_report
from spacer.tasks.common import Pipeline, one_line, original_images


def tasks(p: Pipeline) -> Iterator[dict]:
    yield {"basename": "report", "doc": "static page sharing, original vs aligned",
           "actions": [(one_line(run_report), [p.apps, p.layout])],
           "file_dep": [str(p.layout.verify(n)) for n in p.names]
           + [str(p.layout.symbols(n)) for n in p.names]
           + [path for a in p.apps for path in original_images(a)]
           + [str(p.layout.image(a)) for a in p.apps] + [str(p.layout.layout)]
           # It reads each app's recipe and slice, and under --aslr 2 its map and its
           # rebuilt objects' facts (which libraries stay in place), too.
           + [str(p.layout.extract(n)) for n in p.names]
           + [str(p.layout.plan_slice(n)) for n in p.names]
           + ([str(f(n)) for n in p.names for f in (p.layout.aslr_map, p.layout.pic)]
              if p.options.moving else [])
           + ([str(p.layout.pool_facts)] if p.options.custom_loader else []),
           "targets": [str(p.layout.report), str(p.layout.manifest)],
           "config": p.settings("report"), "clean": True}
