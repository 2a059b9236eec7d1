"""Stage ``report``, whole fleet: static page sharing of the original and the aligned
fleet, and the manifest of images."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from spacer.core.formats.facts import AppFacts, read_facts
from spacer.core.formats.layout import read_layout
from spacer.core.formats.manifest import ImageFiles, Manifest, ManifestEntry, PoolFile, PoolImages
from spacer.core.formats.pool import read_pool
from spacer.core.formats.report import (
    AslrLayouts,
    FleetPages,
    ImageBytes,
    References,
    Report,
    check_report_current,  # noqa: F401  (callers that check an align's report)
    file_digest,
)
from spacer.core.formats.slices import AslrMap, read_slice
from spacer.core.formats.symbols import read_symbols
from spacer.core.formats.verify import read_verify
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.outputs.paths import OutputLayout, debug_image
from spacer.core.planner.model import pin_reason
from spacer.core.readers.workspace import AppBuild
from spacer.core.sharing.pages import fleet_page_stats
from spacer.core.stages.symbols import fleet_direct_references
from spacer.core.stages.verify import compare_fleet


def aslr_summary(maps: list[AslrMap], facts: list[AppFacts]) -> AslrLayouts:
    """Entropy per image, how many images got a layout of their own, and which shared
    libraries stay in place, and why (``--aslr 2``)."""
    layouts = [json.dumps(m.libraries, sort_keys=True) for m in maps]
    bits = [m.entropy_bits for m in maps]
    holders: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for app in facts:
        for obj in app.objects:
            holders[obj.name] = holders.get(obj.name, 0) + 1
            reason = pin_reason(obj)
            if reason:
                reasons.setdefault(obj.name, reason)
    return AslrLayouts(seed=maps[0].seed if maps else None,
                       entropy_bits_min=min(bits, default=0.0),
                       entropy_bits_max=max(bits, default=0.0),
                       distinct_layouts=len(set(layouts)),
                       unique_layout_apps=sum(1 for x in layouts if layouts.count(x) == 1),
                       apps=len(maps),
                       pinned={lib: why for lib, why in sorted(reasons.items())
                               if holders[lib] > 1})


def run_report(apps: list[AppBuild], layout: OutputLayout) -> None:
    """Static sharing of the original and the aligned fleet; the manifest of images."""
    recipes = {a.name: read_facts(layout.extract(a.name)).recipe for a in apps}
    original = [Path(recipes[a.name].image) for a in apps]
    aligned = [layout.image(a) for a in apps]
    before, after = fleet_page_stats(original), fleet_page_stats(aligned)
    plan = read_layout(layout.layout)
    sharing, differing = compare_fleet([read_verify(layout.verify(a.name)) for a in apps])
    bound = plan.packed_bound
    aslr = plan.options.get("aslr", 0)
    symbols = [read_symbols(layout.symbols(a.name)) for a in apps]
    report = Report(
        apps={a.name: ImageBytes(os.path.getsize(o), os.path.getsize(n))
              for a, o, n in zip(apps, original, aligned, strict=True)},
        original=FleetPages.from_json(asdict(before)),
        aligned=FleetPages.from_json(asdict(after)),
        packed_bound=bound,
        aslr=aslr,
        quality=round(after.readonly.distinct / bound, 3) if bound else None,
        shared_libraries=sharing,
        differing_pages=differing,
        aslr_layouts=aslr_summary([read_slice(layout.aslr_map(a.name)).aslr_map for a in apps],
                                  [read_facts(layout.pic(a.name)) for a in apps])
        if aslr >= 2 else None,
        references=References(
            through_tables=sum(lib.through_table for s in symbols
                               for lib in s.libraries.values()),
            direct_by_type=dict(fleet_direct_references(symbols).most_common())),
        made_from=made_from(layout, apps),
    )
    pool = read_pool(layout.pool_facts) if plan.pool else None
    manifest = Manifest({a.name: ManifestEntry(
        original=ImageFiles(str(Path(recipes[a.name].image).resolve()),
                            str(Path(recipes[a.name].debug_image).resolve())),
        aligned=ImageFiles(str(layout.image(a).resolve()),
                           str(debug_image(layout.image(a)).resolve())),
        pool=PoolImages(pool.apps[a.name].image, pool.apps[a.name].patch) if pool else None,
    ) for a in apps}, pool=PoolFile(pool.file, pool.size, pool.digest) if pool else None)
    write_json_atomic(layout.report, report.to_json())
    write_json_atomic(layout.manifest, manifest.to_json())


def made_from(layout: OutputLayout, apps: list[AppBuild]) -> dict[str, str]:
    """sha256 of every file a report was made from, by path under the output folder:
    layout, plan slices (and ASLR maps with the rebuilt objects' facts), extracts, verify
    results and aligned images."""
    paths = [layout.layout]
    for a in apps:
        paths += [layout.extract(a.name), layout.plan_slice(a.name), layout.verify(a.name),
                  layout.image(a)]
        if layout.aslr_map(a.name).is_file():
            paths += [layout.aslr_map(a.name), layout.pic(a.name)]
    return {str(p.relative_to(layout.root)): file_digest(p) for p in paths}
