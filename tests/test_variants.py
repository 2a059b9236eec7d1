"""-c: which variants of a library get a slot of their own (the pool holds one content
per address, so a variant that several images hold would else be a patch in each)."""

from __future__ import annotations

from spacer.core.formats.facts import KindFacts, ObjectFacts
from spacer.core.formats.layout import Layout, UnitRecord
from spacer.core.planner.model import Library
from spacer.core.planner.previous import Previous
from spacer.core.planner.variants import split_variants


def _variant(digest: str, chunks: list[str]) -> ObjectFacts:
    size = 4096 * len(chunks)
    return ObjectFacts(f"/ws/{digest}/libx.o", "libx", digest,
                       {"text": KindFacts([".text"], size, 16, size, False)}, ["x"], 0,
                       chunks={"text": [(c, 4096) for c in chunks]})


def _lib(groups: dict[str, tuple[list[str], list[str]]]) -> Library:
    """libx with, per digest, (its chunks, the apps that link it)."""
    lib = Library("libx")
    for digest, (chunks, apps) in groups.items():
        lib.variants[digest] = _variant(digest, chunks)
        lib.holders.update(dict.fromkeys(apps, digest))
    return lib


def _slots(parts: list[Library]) -> dict[str, list[str]]:
    return {lib.key: lib.apps for lib in parts}


def test_a_variant_that_differs_where_several_images_hold_it_gets_its_own_slot():
    lib = _lib({"aaaaaaaaaaaa": (["a1", "a2", "a3"], ["p", "q", "r", "s"]),
                "bbbbbbbbbbbb": (["b1", "b2", "b3"], ["t", "u"]),   # differs everywhere
                "cccccccccccc": (["a1", "a2", "c3"], ["v", "w"]),   # one page in three
                "dddddddddddd": (["d1", "d2", "d3"], ["x"])})       # one image: private
    assert _slots(split_variants(lib)) == {
        "libx": ["p", "q", "r", "s", "v", "w", "x"],
        "libx@bbbbbbbb": ["t", "u"]}
    # Each part keeps only its own variants.
    assert set(split_variants(lib)[1].variants) == {"bbbbbbbbbbbb"}


def test_many_holders_make_a_small_difference_worth_a_slot():
    lib = _lib({"aaaaaaaaaaaa": (["a1", "a2", "a3"], [f"m{i}" for i in range(6)]),
                "cccccccccccc": (["a1", "a2", "c3"], ["v", "w", "y", "z"])})
    # 3 patches of its one differing page against a second copy of two pages.
    assert _slots(split_variants(lib)) == {"libx": [f"m{i}" for i in range(6)],
                                          "libx@cccccccc": ["v", "w", "y", "z"]}


def test_a_single_variant_is_one_library():
    lib = _lib({"aaaaaaaaaaaa": (["a1"], ["p", "q"])})
    assert split_variants(lib) == [lib]


def _previous(units: list[UnitRecord], apps: list[str]) -> Previous:
    return Previous(Layout({}, apps, {}, {}, units, [], {}, 0))


def test_a_previous_layout_keeps_each_variant_in_its_slot():
    lib = _lib({"aaaaaaaaaaaa": (["a1", "a2", "a3"], ["p", "q", "r"]),
                "bbbbbbbbbbbb": (["b1", "b2", "b3"], ["t", "u"])})
    main = UnitRecord("libx", ["p", "q", "r", "t"], ["libx"],
                      {"libx": {"p": "aaaaaaaaaaaa", "q": "aaaaaaaaaaaa", "r": "aaaaaaaaaaaa",
                                "t": "bbbbbbbbbbbb"}}, {}, {}, {}, {}, {}, {})
    # t was in the main slot with its variant: u joining it does not move t.
    old = _previous([main], ["p", "q", "r", "t"])
    assert _slots(split_variants(lib, old)) == {"libx": ["p", "q", "r", "t", "u"]}
    # A variant that had its own slot keeps it, even with one image left.
    main = UnitRecord("libx", ["p", "q", "r"], ["libx"],
                      {"libx": {"p": "aaaaaaaaaaaa", "q": "aaaaaaaaaaaa", "r": "aaaaaaaaaaaa"}},
                      {}, {}, {}, {}, {}, {})
    own = UnitRecord("libx@bbbbbbbb", ["t", "u"], ["libx@bbbbbbbb"],
                     {"libx@bbbbbbbb": {"t": "bbbbbbbbbbbb", "u": "bbbbbbbbbbbb"}},
                     {}, {}, {}, {}, {}, {})
    lib.holders.pop("u")
    assert _slots(split_variants(lib, _previous([main, own], ["p", "q", "r", "t", "u"]))) \
        == {"libx": ["p", "q", "r"], "libx@bbbbbbbb": ["t"]}
    # A new variant whose images are all new gets its own slot.
    lib.holders.update({"n1": "bbbbbbbbbbbb", "n2": "bbbbbbbbbbbb"})
    lib.holders.pop("t")
    assert _slots(split_variants(lib, _previous([main], ["p", "q", "r"]))) == {
        "libx": ["p", "q", "r"], "libx@bbbbbbbb": ["n1", "n2"]}
