"""Properties of the planner over random synthetic fleets and every option set.

The fleets are :class:`~spacer.core.formats.facts.AppFacts`, as
:func:`spacer.core.stages.extract.extract_app` produces them: per app its objects
(name, content digest, per-kind sections with size and alignment, symbols referred
to and defined), the anchors of the platform script and where they began in the
original image. They are built from the dataclasses, so a change of the format
shows here.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacer.core.formats.facts import AppFacts, KindFacts, ObjectFacts
from spacer.core.formats.layout import Layout
from spacer.core.planner.plan import PlanOptions, plan_fleet
from spacer.core.readers.placement import KINDS, TLS_KINDS, Anchor
from spacer.core.readers.recipe import LinkRecipe
from spacer.core.sharing.pages import PAGE_SIZE as PAGE

TEXT_START = 0x100000
LIBS = ("libkvmplat", "libnolibc", "libukboot", "libukalloc", "libuksched", "libramfs",
        "libukhash")
ALIGNS = (1, 4, 8, 16, 32, 64, PAGE)

kind_part = st.fixed_dictionaries({
    "size": st.integers(1, 3 * PAGE),
    "align": st.sampled_from(ALIGNS),
})


@st.composite
def variants(draw, lib: str) -> dict:
    """One library variant: the kinds it has, their sizes and alignments, its refs."""
    kinds = draw(st.dictionaries(st.sampled_from(sorted(KINDS)), kind_part, min_size=1,
                                 max_size=len(KINDS)))
    refs = draw(st.lists(st.sampled_from([f"{other}_fn" for other in LIBS] + ["main"]),
                         max_size=3, unique=True))
    return {"kinds": kinds, "refs": refs, "defined": [f"{lib}_fn"]}


def _object(app: str, lib: str, digest: str, variant: dict) -> ObjectFacts:
    kinds = {}
    for kind, part in variant["kinds"].items():
        kinds[kind] = KindFacts(sections=[KINDS[kind]], size=part["size"], align=part["align"],
                                solid=part["size"], keep=kind not in ("text", "rodata"),
                                refs=[r for r in variant["refs"] if r != f"{lib}_fn"])
    return ObjectFacts(path=f"/ws/apps/{app}/build/{lib}.o", name=lib, digest=digest,
                       kinds=kinds, defined=list(variant["defined"]), head=0)


def _app(app: str, objects: list[ObjectFacts], head: int) -> AppFacts:
    build = f"/ws/apps/{app}/build"
    recipe = LinkRecipe(f"{build}/{app}.dbg.cmd", "/ws", ("gcc",),
                        tuple(o.path for o in objects), (("dT", "/ws/link64.lds"),),
                        f"{build}/{app}.dbg", f"{build}/{app}", ())
    anchors, addresses = _anchors(objects, head)
    return AppFacts(app=app, build_dir=build, recipe=recipe, anchors=anchors, text_head=head,
                    objects=objects, anchor_addresses=addresses)


def _align_up(x: int, a: int) -> int:
    return -(-x // a) * a


def _anchors(objects: list[ObjectFacts], head: int) -> tuple[dict, dict]:
    """Anchors of a Unikraft-like default script, and addresses that follow the
    image's content in script order."""
    order = ("text", "rodata", "eh_frame", "tdata", "tbss", "data", "bss")
    anchors = {k: Anchor(k, KINDS[k], 0 if k != "text" else 2) for k in order}
    addresses, at = {}, TEXT_START
    for kind in order:
        addresses[kind] = at
        size = sum(o.kinds[kind].size + o.kinds[kind].align
                   for o in objects if kind in o.kinds)
        at = _align_up(at + size + (head if kind == "text" else 0) + 64, PAGE)
    return anchors, addresses


@st.composite
def fleets(draw) -> list[AppFacts]:
    libs = draw(st.lists(st.sampled_from(LIBS), min_size=1, max_size=len(LIBS), unique=True))
    pool = {lib: draw(st.lists(variants(lib), min_size=1, max_size=3)) for lib in libs}
    n_apps = draw(st.integers(2, 6))
    extracts = []
    for i in range(n_apps):
        app = f"app{i}"
        mine = draw(st.lists(st.sampled_from(libs), min_size=1, max_size=len(libs),
                             unique=True))
        objects = []
        for lib in mine:
            v = draw(st.integers(0, len(pool[lib]) - 1))
            objects.append(_object(app, lib, f"{lib}:{v}", pool[lib][v]))
        own = draw(variants(app))
        objects.append(_object(app, f"app{app}", f"app{app}:own", own))
        extracts.append(_app(app, objects, draw(st.integers(0, 2 * PAGE))))
    return extracts


options = st.builds(
    PlanOptions,
    loc=st.none() | st.integers(0x120, 0x200).map(lambda page: page * PAGE),
    align=st.booleans(), group=st.booleans(), copy_objs=st.booleans())

FAST = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def placed_parts(layout: Layout, extracts: list[AppFacts]):
    """(app, kind, lib, digest, start, end, align, slot) for every library part placed;
    ``start`` is an address, or for TLS kinds an offset in the TLS block."""
    facts = {(e.app, o.name): o for e in extracts for o in e.objects}
    for app, piece in layout.slices.items():
        for kind, area in piece.areas.items():
            for slot in area.slots:
                base = slot.address if slot.address is not None else slot.offset
                for part_kind, parts in [(kind, slot.parts), ("eh_frame", slot.eh_parts)]:
                    for part in parts:
                        obj = facts[(app, part.lib)]
                        assert obj.digest == part.digest
                        size = obj.kinds[part_kind].size
                        align = obj.kinds[part_kind].align
                        start = base + part.offset
                        yield app, part_kind, part.lib, part.digest, start, \
                            start + size, align, slot, base


@pytest.mark.slow
@FAST
@given(fleets(), options)
def test_libraries_that_meet_in_an_image_never_overlap(extracts, opts):
    layout = plan_fleet(extracts, opts)
    spans = defaultdict(list)
    for app, kind, lib, _, start, end, _, slot, base in placed_parts(layout, extracts):
        # TLS offsets and addresses are different spaces; all addresses are one space.
        space = kind if kind in TLS_KINDS else "address"
        spans[(app, space)].append((start, end, f"{lib} {kind}"))
        if kind not in TLS_KINDS:
            assert base <= start and end <= base + slot.size, (lib, kind, slot)
    for key, items in spans.items():
        items.sort()
        for (s1, e1, a), (s2, e2, b) in pairwise(items):
            assert e1 <= s2, f"{key}: {a} [{s1:#x},{e1:#x}) overlaps {b} [{s2:#x},{e2:#x})"


@pytest.mark.slow
@FAST
@given(fleets(), options)
def test_every_slot_honours_alignment(extracts, opts):
    layout = plan_fleet(extracts, opts)
    for _, kind, lib, _, start, _, align, _, base in placed_parts(layout, extracts):
        assert start % align == 0, (lib, kind, hex(start), align)
        if opts.align and kind not in TLS_KINDS and kind != "eh_frame":
            assert base % PAGE == 0, (lib, kind, hex(base))
    if opts.loc is not None:
        assert layout.areas["text"].base == opts.loc


@pytest.mark.slow
@FAST
@given(fleets(), options)
def test_every_shared_variant_has_one_address(extracts, opts):
    layout = plan_fleet(extracts, opts)
    where = defaultdict(set)
    holders = defaultdict(set)
    for app, kind, lib, digest, start, _, _, _, _ in placed_parts(layout, extracts):
        where[(lib, digest, kind)].add(start)
        holders[(lib, digest)].add(app)
    assert all(len(addresses) == 1 for addresses in where.values()), where
    # every library two or more images hold is placed in each of them
    count = defaultdict(set)
    for e in extracts:
        for o in e.objects:
            count[o.name].add(e.app)
    for lib, apps in count.items():
        if len(apps) >= 2:
            placed = {a for (name, _), held in holders.items() if name == lib for a in held}
            assert placed == apps, lib


@pytest.mark.slow
@FAST
@given(fleets(), options)
def test_same_input_same_plan(extracts, opts):
    again = copy.deepcopy(extracts)
    layout = plan_fleet(extracts, opts)
    assert layout == plan_fleet(again, opts)
    assert extracts == again, "the planner does not modify its input"
    # What the stages write is what the next stage reads back.
    assert Layout.from_json(json.loads(json.dumps(layout.to_json()))) == layout
    for facts in extracts:
        assert AppFacts.from_json(json.loads(json.dumps(facts.to_json()))) == facts


def _fleet(sizes: dict[str, int]) -> list[AppFacts]:
    """Apps holding one shared library, ``libukhash``, whose code has the given size."""
    extracts = []
    for app, size in sizes.items():
        objects = [_object(app, "libukhash", f"libukhash:{size}", {
                       "kinds": {"text": {"size": size, "align": 16}}, "refs": [],
                       "defined": ["libukhash_fn"]}),
                   _object(app, f"app{app}", f"app{app}:own", {
                       "kinds": {"text": {"size": 100, "align": 16}}, "refs": [],
                       "defined": ["main"]})]
        extracts.append(_app(app, objects, 0))
    return extracts


def test_a_new_variant_too_big_for_its_slot_costs_its_own_pages():
    """The new app keeps its own copy; the move says how many pages a fresh plan
    would have shared, and no existing app relinks."""
    first = plan_fleet(_fleet({"a": 3000, "b": 3000}))
    grown = _fleet({"a": 3000, "b": 3000, "c": 3 * PAGE + 10})
    again = plan_fleet(grown, PlanOptions(), first)
    (move,) = again.moves
    assert move.unit == "libukhash" and move.apps == [] and "c links" in move.why
    assert move.pages_lost == 4
    assert again.slices["a"] == first.slices["a"]
