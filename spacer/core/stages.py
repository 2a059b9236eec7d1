"""The pipeline's stages as file-to-file functions: each reads JSON, calls the core,
writes its outputs atomically. The doit tasks in :mod:`spacer.tasks` call these."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from spacer.core.aslr import place_app
from spacer.core.errors import BadInput
from spacer.core.extract import extract_app
from spacer.core.fileio import read_json, write_json_atomic, write_text_atomic
from spacer.core.ldscript import rewrite_script
from spacer.core.link import relink
from spacer.core.pages import fleet_page_stats
from spacer.core.pic import pic_app
from spacer.core.plan import PlanOptions, plan_fleet, with_tables
from spacer.core.slices import AslrMap, Slice
from spacer.core.symbols import app_symbols, fleet_direct_references
from spacer.core.recipe import default_script
from spacer.core.verify import check_app, compare_fleet, require_placed
from spacer.core.workspace import AppBuild


@dataclass(frozen=True)
class OutputLayout:
    """Where every stage writes, under the output folder."""

    root: Path

    def extract(self, app: str) -> Path:
        return self.root / "extract" / f"{app}.json"

    @property
    def layout(self) -> Path:
        return self.root / "layout.json"

    def pic(self, app: str) -> Path:
        return self.root / "pic" / f"{app}.json"

    def pic_dir(self, app: str) -> Path:
        return self.root / "pic" / app

    def symbols(self, app: str) -> Path:
        return self.root / "symbols" / f"{app}.json"

    def aslr_map(self, app: str) -> Path:
        return self.root / "aslr" / f"{app}.json"

    def plan_slice(self, app: str) -> Path:
        return self.root / "plan" / f"{app}.json"

    def app_dir(self, app: str) -> Path:
        return self.root / "apps" / app

    def script(self, app: str) -> Path:
        return self.app_dir(app) / "linker.lds"

    def image(self, app: AppBuild) -> Path:
        return self.app_dir(app.name) / Path(app.link_cmd).name.removesuffix(".dbg.cmd")

    def verify(self, app: str) -> Path:
        return self.app_dir(app) / "verify.json"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"


def run_extract(app: AppBuild, out: Path) -> None:
    write_json_atomic(out, extract_app(app), only_if_changed=True)


def run_pic(extract_file: Path, out: Path, objects_dir: Path,
            log: Callable[[str], None] | None = None) -> None:
    """The app's libraries rebuilt position-independent, with their facts (``--aslr``)."""
    write_json_atomic(out, pic_app(read_json(extract_file), objects_dir, log=log),
                      only_if_changed=True)


def run_symbols(facts_file: Path, out: Path) -> None:
    """References leaving each library of one app, and its libraries' tables."""
    write_json_atomic(out, app_symbols(read_json(facts_file)), only_if_changed=True)


def run_plan(extract_files: list[Path], symbol_files: list[Path], options: PlanOptions,
             layout: OutputLayout, replan: bool = False) -> None:
    """The fleet's layout, and one slice per app written only when it changed, so only
    the apps whose slice moved are relinked. Tables are sized from the symbols stage.
    The previous layout, if any, is kept as far as it can be, unless ``replan``."""
    extracts = [with_tables(read_json(p), read_json(s))
                for p, s in zip(extract_files, symbol_files, strict=True)]
    previous = None
    if layout.layout.is_file() and not replan:
        try:
            previous = read_json(layout.layout)
        except (ValueError, OSError):
            raise BadInput("the previous layout cannot be read", layout.layout,
                           "run spacer align --replan") from None
    plan = plan_fleet(extracts, options, previous)
    for app, piece in plan["slices"].items():
        write_json_atomic(layout.plan_slice(app), piece, only_if_changed=True)
    write_json_atomic(layout.layout, plan, only_if_changed=True)


def read_slice(path: Path) -> Slice:
    """An app's plan slice (or ASLR map), typed."""
    return Slice.from_json(read_json(path), str(path))


def run_aslr(slice_file: Path, seed: int, out: Path) -> None:
    """This image's placement of its shared libraries (``--aslr 2``)."""
    write_json_atomic(out, place_app(read_slice(slice_file), seed).to_json(),
                      only_if_changed=True)


def run_lds(extract_file: Path, slice_file: Path, out: Path) -> None:
    extract = read_json(extract_file)
    recipe = extract["recipe"]
    default = default_script(recipe["scripts"], recipe["cmd_file"])
    text = Path(default).read_text(errors="replace")
    write_text_atomic(out, rewrite_script(text, default, read_slice(slice_file)))


def run_relink(extract_file: Path, slice_file: Path, script: Path, out_dir: Path,
               log: Callable[[str], None] | None = None) -> None:
    relink(read_json(extract_file), read_slice(slice_file), script, out_dir, log)


def run_verify(slice_file: Path, image: Path, out: Path) -> None:
    debug = Path(f"{image}.dbg")
    check = check_app(read_slice(slice_file), debug, Path(f"{image}.map"))
    require_placed(check, str(debug))
    write_json_atomic(out, check)


def aslr_summary(maps: list[AslrMap]) -> dict:
    """Entropy per image and how many images got a layout of their own (``--aslr 2``)."""
    layouts = [json.dumps(m.libraries, sort_keys=True) for m in maps]
    bits = [m.entropy_bits for m in maps]
    return {"seed": maps[0].seed if maps else None,
            "entropy_bits_min": min(bits, default=0.0),
            "entropy_bits_max": max(bits, default=0.0),
            "distinct_layouts": len(set(layouts)),
            "unique_layout_apps": sum(1 for x in layouts if layouts.count(x) == 1),
            "apps": len(maps)}


REPORT_SCHEMA = "spacer-report/1"  # README "report.json": bump when a field changes meaning


def run_report(apps: list[AppBuild], layout: OutputLayout) -> None:
    """Static sharing of the original and the aligned fleet; the manifest of images."""
    extracts = {a.name: read_json(layout.extract(a.name)) for a in apps}
    original = [Path(extracts[a.name]["recipe"]["image"]) for a in apps]
    aligned = [layout.image(a) for a in apps]
    before, after = fleet_page_stats(original), fleet_page_stats(aligned)
    plan = read_json(layout.layout)
    sharing = compare_fleet([read_json(layout.verify(a.name)) for a in apps])
    bound = plan["packed_bound"]
    report = {
        "schema": REPORT_SCHEMA,
        "apps": {a.name: {"original_bytes": os.path.getsize(o), "aligned_bytes": os.path.getsize(n)}
                 for a, o, n in zip(apps, original, aligned, strict=True)},
        "original": asdict(before),
        "aligned": asdict(after),
        "packed_bound": bound,
        "aslr": plan["options"].get("aslr", 0),
        "quality": round(after.readonly.distinct / bound, 3) if bound else None,
        "shared_libraries": {k: sharing[k] for k in ("libraries", "identical_pages",
                                                      "differing_pages", "extra_copies")},
        "differing_pages": sharing["differing"],
    }
    manifest = {"apps": {a.name: {
        "original": {"image": str(Path(extracts[a.name]["recipe"]["image"]).resolve()),
                     "debug": str(Path(extracts[a.name]["recipe"]["debug_image"]).resolve())},
        "aligned": {"image": str(layout.image(a).resolve()),
                    "debug": str(Path(f"{layout.image(a)}.dbg").resolve())},
    } for a in apps}}
    if plan["options"].get("aslr", 0) >= 2:
        report["aslr_layouts"] = aslr_summary([read_slice(layout.aslr_map(a.name)).aslr_map
                                               for a in apps])
    symbols = [read_json(layout.symbols(a.name)) for a in apps]
    report["references"] = {
        "through_tables": sum(lib["through_table"] for s in symbols
                              for lib in s["libraries"].values()),
        "direct_by_type": dict(fleet_direct_references(symbols).most_common()),
    }
    report["made_from"] = made_from(layout, apps)
    write_json_atomic(layout.report, report)
    write_json_atomic(layout.manifest, manifest)


def made_from(layout: OutputLayout, apps: list[AppBuild]) -> dict[str, str]:
    """sha256 of every file a report was made from, by path under the output folder:
    layout, plan slices (and ASLR maps), extracts, verify results and aligned images."""
    paths = [layout.layout]
    for a in apps:
        paths += [layout.extract(a.name), layout.plan_slice(a.name), layout.verify(a.name),
                  layout.image(a)]
        if layout.aslr_map(a.name).is_file():
            paths.append(layout.aslr_map(a.name))
    return {str(p.relative_to(layout.root)): _sha256(p) for p in paths}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def check_report_current(root: Path) -> dict:
    """``report.json`` under ``root``, if it still describes the outputs beside it.

    An align that failed or was interrupted after the plan changed leaves the previous
    report behind: the files it was made from have changed since. Refuse it then.
    """
    path = Path(root) / "report.json"
    try:
        report = read_json(path)
        sources = report["made_from"]
        stale = next((name for name, digest in sorted(sources.items())
                      if _sha256(Path(root) / name) != digest), None)
    except FileNotFoundError:
        raise BadInput("no report yet", path, "run spacer align first") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BadInput("not a report of this spacer version", path,
                       "run spacer align again") from None
    if stale is not None:
        raise BadInput(f"out of date: {stale} changed since it was written (the last align "
                       "failed or was interrupted)", path, "run spacer align again")
    return report
