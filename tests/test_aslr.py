"""--aslr 1 and 2: libraries rebuilt position-independent, with per-library indirection
tables; under --aslr 2 every image places them in its own order.

The tiny objects below each hold exactly one kind of reference, compiled and
linked for real; the demo fleet is aligned with tables and booted."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from spacer.core.formats.facts import AppFacts, ObjectFacts
from spacer.core.readers.objects import read_relocations
from spacer.core.readers.recipe import LinkRecipe
from spacer.core.rewrite.indirect import GOT_TYPES, R_X86_64_PC32, redirect_got, table_symbol
from spacer.core.rewrite.rebuild import pic_flags
from spacer.core.stages.symbols import app_symbols
from spacer.demo.apps import DEMO_APPS
from spacer.demo.build import build_fleet
from spacer.measure.qemu import boot
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings

APPS = {a.name: a for a in DEMO_APPS}
# The apps whose nolibc is the POSIX_FD variant, and two that link the common one.
PICKED = ("fsdemo", "args", "hello", "hashsum", "kvstore")

LIB_C = """
extern int counter;                       /* data of another library */
extern int other_fn(int);                 /* a function of another library */
extern void weak_fn(void) __attribute__((weak));
extern __thread int tls_var;              /* thread-local: left to ld */
static int local_state;
int counter_get(void) { return counter; }                       /* GOT load */
int call_other(int x) { return other_fn(x) + 1; }               /* call *GOT */
int tail_other(int x) { return other_fn(x); }                   /* jmp *GOT: tail call */
void *addr_of_other(void) { return (void *)&other_fn; }         /* address taken */
int has_weak(void) { return weak_fn != 0; }                     /* weak undefined */
int get_tls(void) { return tls_var; }
int bump_local(void) { return ++local_state; }                  /* stays PC-relative */
"""
MAIN_C = """
int counter = 41;
__thread int tls_var = 7;
int other_fn(int x) { return x * 2; }
extern int counter_get(void), call_other(int), tail_other(int), has_weak(void);
extern int get_tls(void), bump_local(void);
extern void *addr_of_other(void);
int check(void)
{
    return counter_get() == 41 && call_other(3) == 7 && tail_other(5) == 10
        && addr_of_other() == (void *)&other_fn && has_weak() == 0
        && bump_local() == 1 && bump_local() == 2;
}
"""
LDS = """
SECTIONS {
  . = 0x400000;
  .text : { *(.text .text.*) }
  .rodata : { *(.rodata .rodata.*) }
  %s
  .data : { *(.data .data.*) }
  .tdata : { *(.tdata) } .tbss : { *(.tbss) }
  .bss : { *(.bss) *(COMMON) }
}
"""


def _got_relocs(path: Path) -> dict[str, set[int]]:
    """symbol -> relocation types of the GOT-style and PC32 relocations in ``path``."""
    found: dict[str, set[int]] = {}
    with path.open("rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if isinstance(sec, RelocationSection):
                symtab = elf.get_section(sec["sh_link"])
                for rel in sec.iter_relocations():
                    name = symtab.get_symbol(rel["r_info_sym"]).name
                    found.setdefault(name, set()).add(rel["r_info_type"])
    return found


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tiny")
    (d / "lib.c").write_text(LIB_C)
    (d / "main.c").write_text(MAIN_C)
    argv = ["gcc", "-O2", "-fno-pic", "-c", str(d / "lib.c"), "-o", str(d / "lib.o")]
    subprocess.run(pic_flags(argv), check=True)
    subprocess.run(["gcc", "-O2", "-fno-pic", "-c", str(d / "main.c"), "-o", str(d / "main.o")],
                   check=True)
    start = d / "start.c"  # a static Linux program's entry: exit(check() ? 0 : 1)
    start.write_text("extern int check(void);\nvoid _start(void) {\n"
                     "  long rc = check() ? 0 : 1;\n"
                     "  __asm__ volatile(\"syscall\" :: \"a\"(60), \"D\"(rc));\n}\n")
    subprocess.run(["gcc", "-O2", "-fno-pic", "-c", str(start), "-o", str(d / "start.o")],
                   check=True)
    return d


def test_pic_flags_replace_the_code_model_and_drop_dependency_files():
    argv = ["gcc", "-O2", "-fno-PIC", "-Wp,-MD,/b/.x.o.d", "-MF", "/b/x.d", "-MD",
            "-c", "x.c", "-o", "/b/x.o"]
    out = pic_flags(argv)
    assert "-fno-PIC" not in out and not any("-MD" in a or a == "-MF" for a in out)
    assert out[out.index("-c") - 3:out.index("-c")] == ["-fPIC", "-fno-plt",
                                                        "-ftls-model=local-exec"]
    assert out[-3:] == ["x.c", "-o", "/b/x.o"]


def test_every_got_relocation_is_aimed_at_the_library_table(tiny: Path):
    before = _got_relocs(tiny / "lib.o")
    # The compiler produced each kind of reference the test is about.
    assert before["counter"] & set(GOT_TYPES) and before["other_fn"] & set(GOT_TYPES)
    assert before["weak_fn"] & set(GOT_TYPES)
    original = (tiny / "lib.o").read_bytes()
    entries = redirect_got(tiny / "lib.o", tiny / "lib.spacer.o", "libtiny")
    assert (tiny / "lib.o").read_bytes() == original, "the input object is never written"
    assert [e.symbol for e in entries] == sorted(["counter", "other_fn", "weak_fn"])
    assert [e.weak for e in entries] == [False, False, True]
    after = _got_relocs(tiny / "lib.spacer.o")
    assert not any(types & set(GOT_TYPES) for types in after.values())
    assert after[table_symbol("libtiny")] == {R_X86_64_PC32}
    assert "tls_var" in after, "TLS references are left to ld"


def test_redirected_object_links_and_computes_the_same(tiny: Path):
    """Link the rewritten object with a table the script fills, as spacer's scripts do,
    and run it as a static Linux program: every redirected reference must load the
    value the GOT would have held. (The harness sets no thread pointer, so it does
    not call the TLS accessor; its relocation is checked above.)"""
    entries = redirect_got(tiny / "lib.o", tiny / "lib.spacer.o", "libtiny")
    quads = " ".join(f"QUAD(DEFINED({e.symbol}) ? {e.symbol} : 0)" if e.weak
                     else f"QUAD({e.symbol})" for e in entries)
    table = f".spacer.got : {{ {table_symbol('libtiny')} = .; {quads} }}"
    (tiny / "t.lds").write_text(LDS % table)
    exe = tiny / "t.elf"
    subprocess.run(["gcc", "-nostdlib", "-static", "-no-pie", "-Wl,-T," + str(tiny / "t.lds"),
                    str(tiny / "start.o"), str(tiny / "main.o"), str(tiny / "lib.spacer.o"),
                    "-o", str(exe)], check=True)
    proc = subprocess.run([str(exe)], check=False)
    assert proc.returncode == 0, "the redirected references computed wrong values"


def test_direct_copy_calls_foreign_symbols_without_a_table(tiny: Path):
    """The copy for an image that keeps the library to itself: every GOT load of a
    defined symbol becomes PC-relative; only the weak undefined one keeps a slot."""
    entries = redirect_got(tiny / "lib.o", tiny / "lib.direct.o", "libtiny", direct=True)
    assert [(e.symbol, e.weak) for e in entries] == [("weak_fn", True)]
    after = _got_relocs(tiny / "lib.direct.o")
    assert after["other_fn"] == {R_X86_64_PC32} and after["counter"] == {R_X86_64_PC32}
    assert not any(types & set(GOT_TYPES) for types in after.values())
    table = (f".spacer.got : {{ {table_symbol('libtiny')} = .; "
             "QUAD(DEFINED(weak_fn) ? weak_fn : 0) }")
    (tiny / "d.lds").write_text(LDS % table)
    exe = tiny / "d.elf"
    subprocess.run(["gcc", "-nostdlib", "-static", "-no-pie", "-Wl,-T," + str(tiny / "d.lds"),
                    str(tiny / "start.o"), str(tiny / "main.o"), str(tiny / "lib.direct.o"),
                    "-o", str(exe)], check=True)
    assert subprocess.run([str(exe)], check=False).returncode == 0


LOCAL_S = """
	.text
	.globl via_mov
via_mov:				/* mov GOT -> lea */
	movq lf@GOTPCREL(%rip), %rax
	jmp *%rax
	.globl via_call
via_call:				/* call *GOT -> addr32 call */
	subq $8, %rsp
	call *lf@GOTPCREL(%rip)
	addq $8, %rsp
	ret
	.globl via_jmp
via_jmp:				/* jmp *GOT -> jmp; nop (a tail call stays one) */
	jmp *lf@GOTPCREL(%rip)
	.globl via_movq
via_movq:				/* not relaxable: a table slot through an alias */
	movq lf@GOTPCREL(%rip), %xmm0
	movq %xmm0, %rax
	jmp *%rax
	.globl via_own
via_own:				/* a global the object defines: library-internal */
	movq own@GOTPCREL(%rip), %rax
	jmp *%rax
	.globl own
own:
	movl $7, %eax
	ret
lf:
	movl $42, %eax
	ret
	.section .note.GNU-stack,"",@progbits
"""
LOCAL_MAIN = """
extern int via_mov(void), via_call(void), via_jmp(void), via_movq(void), via_own(void);
void _start(void)
{
    long rc = !(via_mov() == 42 && via_call() == 42 && via_jmp() == 42
                && via_movq() == 42 && via_own() == 7);
    __asm__ volatile("syscall" :: "a"(60), "D"(rc));
}
"""


def test_got_loads_of_own_symbols_become_pc_relative_and_still_run(tmp_path: Path):
    (tmp_path / "t.s").write_text(LOCAL_S)
    (tmp_path / "main.c").write_text(LOCAL_MAIN)
    subprocess.run(["gcc", "-c", str(tmp_path / "t.s"), "-o", str(tmp_path / "t.o")],
                   check=True)
    subprocess.run(["gcc", "-O2", "-fno-pic", "-c", str(tmp_path / "main.c"), "-o",
                    str(tmp_path / "main.o")], check=True)
    entries = redirect_got(tmp_path / "t.o", tmp_path / "t.spacer.o", "libt")
    # Only the movq load needs a slot; every other GOT load became PC-relative.
    assert [e.symbol for e in entries] == ["__spacer_local_libt_0"]
    after = _got_relocs(tmp_path / "t.spacer.o")
    assert not any(types & set(GOT_TYPES) for types in after.values())
    assert after["own"] == {R_X86_64_PC32}
    quads = " ".join(f"QUAD({e.symbol})" for e in entries)
    (tmp_path / "t.lds").write_text(LDS % f".spacer.got : {{ {table_symbol('libt')} = .; "
                                          f"{quads} }}")
    exe = tmp_path / "t.elf"
    subprocess.run(["gcc", "-nostdlib", "-static", "-no-pie", "-Wl,-T," + str(tmp_path / "t.lds"),
                    str(tmp_path / "main.o"), str(tmp_path / "t.spacer.o"), "-o", str(exe)],
                   check=True)
    assert subprocess.run([str(exe)], check=False).returncode == 0


def test_own_symbols_outside_the_moving_sections_keep_their_slot(tmp_path: Path):
    """An own symbol in a section the image places itself (the boot code, a per-image
    table such as Unikraft's .uk_eventtab) sits at an address that differs between
    images: its GOT loads go through the table, and the object still runs."""
    (tmp_path / "t.s").write_text(LOCAL_S.replace("lf:\n", '.section .uk_eventtab,"ax"\nlf:\n'))
    (tmp_path / "main.c").write_text(LOCAL_MAIN)
    subprocess.run(["gcc", "-c", str(tmp_path / "t.s"), "-o", str(tmp_path / "t.o")],
                   check=True)
    subprocess.run(["gcc", "-O2", "-fno-pic", "-c", str(tmp_path / "main.c"), "-o",
                    str(tmp_path / "main.o")], check=True)
    entries = redirect_got(tmp_path / "t.o", tmp_path / "t.spacer.o", "libt",
                           movable={".text"})
    # Every load of lf keeps a slot (one alias); own, in .text, became PC-relative.
    assert [e.symbol for e in entries] == ["__spacer_local_libt_0"]
    after = _got_relocs(tmp_path / "t.spacer.o")
    assert after["own"] == {R_X86_64_PC32}
    assert after[table_symbol("libt")] == {R_X86_64_PC32}
    assert sum(r.symbol == table_symbol("libt")
               for r in read_relocations(tmp_path / "t.spacer.o")) == 4
    (tmp_path / "t.lds").write_text(LDS % f".spacer.got : {{ {table_symbol('libt')} = .; "
                                          "QUAD(__spacer_local_libt_0) }")
    exe = tmp_path / "t.elf"
    subprocess.run(["gcc", "-nostdlib", "-static", "-no-pie", "-Wl,-T," + str(tmp_path / "t.lds"),
                    str(tmp_path / "main.o"), str(tmp_path / "t.spacer.o"), "-o", str(exe)],
                   check=True)
    assert subprocess.run([str(exe)], check=False).returncode == 0


def test_symbols_stage_names_direct_references_by_type(tmp_path: Path):
    """Absolute addresses (mov $sym, a pointer table) cannot go through a table: the
    symbols stage lists them by relocation type and definer."""
    (tmp_path / "abs.c").write_text(
        "extern int target(int);\nextern int data_word;\n"
        "int (*const table[])(int) = { target };\n"
        "void *addr(void) { return &data_word; }\n")
    obj = tmp_path / "libabs.o"
    subprocess.run(["gcc", "-O2", "-fno-pic", "-mcmodel=small", "-c", str(tmp_path / "abs.c"),
                    "-o", str(obj)], check=True)
    recipe = LinkRecipe("t.dbg.cmd", str(tmp_path), ("gcc",), (str(obj),), (), "t.dbg", "t", ())
    facts = AppFacts("t", str(tmp_path), recipe, {}, 0,
                     [ObjectFacts(str(obj), "libabs", "d", {}, ["addr", "table"], 0)], {})
    refs = app_symbols(facts).libraries["libabs"]
    kinds = {(r.symbol, r.type) for r in refs.direct}
    assert ("target", "R_X86_64_64") in kinds
    assert ("data_word", "R_X86_64_32") in kinds
    assert all(r.defined_by is None for r in refs.direct)
    assert refs.through_table == 0 and refs.table == []


@pytest.fixture(scope="module")
def aslr1(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aslr1")
    settings = Settings(workspace=demo_workspace, out=out, demo=False, apps=PICKED,
                        plan={"aslr": 1})
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    return out


@pytest.mark.slow
def test_aslr1_leaves_no_differing_shared_library_page(aslr1: Path):
    report = json.loads((aslr1 / "report.json").read_text())
    shared = report["shared_libraries"]
    assert shared["libraries"] > 5 and shared["identical_pages"] > 20
    assert shared["differing_pages"] == 0, report["differing_pages"]
    assert report["aslr"] == 1
    # The bound is a bound: no layout we make goes below it.
    assert report["packed_bound"] <= report["aligned"]["readonly"]["distinct"]


def test_aslr0_shows_the_variant_displacements_that_aslr1_removes(demo_workspace: Path,
                                                                   tmp_path: Path):
    settings = Settings(workspace=demo_workspace, out=tmp_path, demo=False, apps=PICKED)
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["shared_libraries"]["differing_pages"] > 0
    culprits = {s for page in report["differing_pages"] for s in page["symbols"]}
    assert culprits & {"memcpy", "memset", "strlen", "strcmp", "printf"}


@pytest.mark.slow
def test_aslr1_links_the_rebuilt_objects_and_leaves_builds_alone(aslr1: Path,
                                                                  demo_workspace: Path):
    layout = json.loads((aslr1 / "layout.json").read_text())
    for piece in layout["slices"].values():
        for original, linked in piece["objects"].items():
            assert original.startswith(str(demo_workspace))
            assert Path(linked).is_relative_to(aslr1), "every object links spacer's PIC copy"
    # The build's dependency lists are its own: written before its objects, never after.
    for deps in demo_workspace.rglob(".*.o.d"):
        obj = deps.with_name(deps.name[1:].removesuffix(".d"))
        assert deps.stat().st_mtime_ns <= obj.stat().st_mtime_ns, deps


# --- --aslr 2: every image its own placement -------------------------------------

def _align(ws: Path, out: Path, seed: int = 0, apps: tuple[str, ...] = PICKED) -> list[str]:
    settings = Settings(workspace=ws, out=out, demo=False, apps=apps, plan={"aslr": 2},
                        seed=seed)
    code, ran, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    return ran


def _images(out: Path) -> dict[str, bytes]:
    entries = json.loads((out / "manifest.json").read_text())["apps"]
    return {app: Path(e["aligned"]["image"]).read_bytes() for app, e in entries.items()}


@pytest.fixture(scope="module")
def aslr2(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aslr2")
    _align(demo_workspace, out)
    return out


def test_aslr2_moves_libraries_per_image_and_keeps_their_bytes(aslr2: Path):
    report = json.loads((aslr2 / "report.json").read_text())
    layouts = report["aslr_layouts"]
    assert layouts["unique_layout_apps"] == layouts["apps"] == len(PICKED)
    assert layouts["entropy_bits_min"] >= 16
    maps = {app: json.loads((aslr2 / "aslr" / f"{app}.json").read_text())["aslr_map"]
            for app in PICKED}
    nolibc = {m["libraries"]["text"]["libnolibc"] for m in maps.values()}
    assert len(nolibc) > 1, "nolibc sits at one address in every image"
    # The platform library keeps its one place (its boot code), and the report says why.
    assert "boot code" in layouts["pinned"]["libkvmplat"]
    assert len({m["libraries"]["text"]["libkvmplat"] for m in maps.values()}) == 1
    assert "libnolibc" not in layouts["pinned"]
    # Code and read-only data of every shared library: the same bytes in every image
    # that links the variant, wherever it landed. Only data holding pointers differs.
    assert {page["library"].split("/")[1] for page in report["differing_pages"]} <= {"data"}
    assert report["shared_libraries"]["identical_pages"] > 20


def test_aslr2_chunks_fill_one_region_once_and_leave_no_hole(aslr2: Path):
    """Each moving block is one chunk of pages (code, read-only data, data, bss), held
    once in a region as large as the largest image's chunks plus its slack, and the
    segments cover the whole region: the kernel must not give a gap to its heap."""
    infos = {app: json.loads((aslr2 / "aslr" / f"{app}.json").read_text())["aslr"]
             for app in PICKED}
    needs = [sum(u["block"] for u in info["units"] if u["pinned"] is None)
             + info["slack_pages"] * 4096 for info in infos.values()]
    for app, info in infos.items():
        assert info["region"] == max(needs)
        lo, hi = info["region_base"], info["region_base"] + info["region"]
        entry = json.loads((aslr2 / "manifest.json").read_text())["apps"][app]
        with Path(entry["aligned"]["debug"]).open("rb") as f:
            spans = sorted((seg["p_vaddr"], seg["p_vaddr"] + seg["p_memsz"])
                           for seg in ELFFile(f).iter_segments()
                           if seg["p_type"] == "PT_LOAD" and seg["p_memsz"])
        inside = [(a, b) for a, b in spans if b > lo and a < hi]
        covered = lo
        for a, b in inside:
            assert a <= covered, f"{app}: a hole at {covered:#x}-{a:#x} in the region"
            assert a >= covered or a < lo, f"{app}: segments overlap at {a:#x}"
            covered = -(-b // 4096) * 4096
        assert covered >= hi


@pytest.mark.slow
def test_aslr2_same_mapping_keeps_one_order_and_moves_by_gaps(demo_workspace: Path,
                                                              tmp_path: Path):
    settings = Settings(workspace=demo_workspace, out=tmp_path, demo=False, apps=PICKED,
                        plan={"aslr": 2, "same_mapping": True})
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["aslr_layouts"]["entropy_bits_min"] >= 16
    texts = [json.loads((tmp_path / "aslr" / f"{app}.json").read_text())
             ["aslr_map"]["libraries"]["text"] for app in PICKED]
    rank: dict[tuple[str, str], bool] = {}
    for text in texts:
        for a in text:
            for b in text:
                if a < b:  # every pair of libraries in one order in every image
                    assert rank.setdefault((a, b), text[a] < text[b]) == (text[a] < text[b])
    assert len({text["libnolibc"] for text in texts}) > 1, "the gaps move nolibc"


@pytest.mark.slow
def test_aslr2_same_seed_same_images_other_seed_other_layout(aslr2: Path,
                                                             demo_workspace: Path,
                                                             tmp_path: Path):
    _align(demo_workspace, tmp_path / "again")
    assert _images(tmp_path / "again") == _images(aslr2)
    slices = {p.name: p.read_bytes() for p in (tmp_path / "again" / "plan").glob("*.json")}
    ran = _align(demo_workspace, tmp_path / "again", seed=7)
    # A new seed redraws every map and relinks every app; nothing before the plan reruns,
    # and the plan, which records the seed in layout.json, keeps every slice.
    assert {t.split(":")[0] for t in ran} >= {"aslr", "lds", "relink"}
    assert not {t for t in ran if t.startswith(("extract:", "pic:"))}
    assert slices == {p.name: p.read_bytes()
                      for p in (tmp_path / "again" / "plan").glob("*.json")}
    assert json.loads((tmp_path / "again" / "layout.json").read_text())["options"]["seed"] == 7
    assert sum(1 for t in ran if t.startswith("relink:")) == len(PICKED)
    other = _images(tmp_path / "again")
    assert all(other[app] != data for app, data in _images(aslr2).items())


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed")
@pytest.mark.parametrize("mode", ["aslr1", "aslr2"])
@pytest.mark.parametrize("name", PICKED)
def test_image_behaves_like_the_original(request, mode: str, name: str):
    out = request.getfixturevalue(mode)
    entry = json.loads((out / "manifest.json").read_text())["apps"][name]
    original = boot(Path(entry["original"]["image"]), timeout=30)
    relinked = boot(Path(entry["aligned"]["image"]), timeout=30)
    assert not relinked.timed_out
    assert relinked.output == original.output
    assert relinked.exit_code == original.exit_code == APPS[name].exit_code


@pytest.mark.slow
def test_aslr2_changed_app_relinks_alone(small_fleet):
    ws, out = small_fleet["ws"], small_fleet["out"]
    names = tuple(a.name for a in small_fleet["apps"])
    first = _align(ws, out, apps=names)
    assert sum(1 for t in first if t.startswith("relink:")) == len(names)
    main_c = small_fleet["src"] / "apps" / "hello" / "main.c"
    main_c.write_text(main_c.read_text() + "\nint spacer_test_extra(int x) { return 3 * x; }\n")
    build_fleet(ws, [APPS["hello"]], src_root=small_fleet["src"])
    ran = _align(ws, out, apps=names)
    assert {"pic:hello", "relink:hello"} <= set(ran)
    assert not [t for t in ran if t.startswith(("relink:", "aslr:", "pic:"))
                and not t.endswith(":hello")]


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed")
def test_tables_add_almost_no_instructions_to_a_call_loop(tmp_path: Path):
    """``spacer bench runtime`` with one boot each: under -icount the loop's guest
    cycles count its instructions. Relinking alone changes none; the tables add a
    load per call through them, a fraction of a percent of a call-heavy loop."""
    from spacer.bench.runtime import bench
    from spacer.measure.qemu import kvm_usable

    if kvm_usable():
        pytest.skip("-icount needs TCG")
    rows = {row["mode"]: row["instructions"] for row in bench(tmp_path, runs=1)}
    base = rows["original"]
    assert rows["--aslr 0"] == base
    for mode in ("--aslr 1", "--aslr 2"):
        assert base < rows[mode] <= base * 1.002, rows


@pytest.mark.slow
def test_aslr2_new_app_that_needs_a_larger_region_says_so(demo_workspace: Path,
                                                           tmp_path: Path):
    """hello holds two moving blocks, so it needs the most slack for its 16 bits:
    added to a fleet without such an app, it grows the region of moving chunks, and
    the areas after it move. The layout's moves say why, not that an image's own
    content grew."""
    others = ("counter", "hashsum", "kvstore", "sched")
    _align(demo_workspace, tmp_path, apps=others)
    ran = _align(demo_workspace, tmp_path, apps=(*others, "hello"))
    moves = json.loads((tmp_path / "layout.json").read_text())["moves"]
    reasons = [m["why"] for m in moves if m["apps"] == ["all"]]
    assert any("moving chunks grew" in why for why in reasons), moves
    assert not any("own content" in why for why in reasons), moves
    assert sum(1 for t in ran if t.startswith("relink:")) == len(others) + 1


QUIET_LIB = """/* A library whose variant built with -DQUIET has no read-only data at all. */
int quiet_calls = 1; /* data after the read-only room, in every variant */

int quiet_value(int x)
{
\tquiet_calls++;
#ifdef QUIET
\treturn x * 3 + 1;
#else
\tstatic const int table[64] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3 };
\treturn table[x & 63] * 3 + 1;
#endif
}
"""
QUIET_MAIN = """#include <stdio.h>
int quiet_value(int x);
int main(int argc, char *argv[])
{
\t(void)argc;
\t(void)argv;
\tprintf("%s: %d\\n", APP, quiet_value(2));
\treturn 5;
}
"""


@pytest.mark.slow
@pytest.mark.boot
def test_aslr2_a_variant_without_a_kind_leaves_no_empty_segment_nor_hole(tmp_path: Path):
    """One app's variant of a shared library has read-only data, the other's none:
    the chunk keeps a read-only room, which the second image leaves empty. It must
    not declare a program header for it (ld makes it an empty segment at address 0,
    and QEMU then loads the image from 0: the real network apps reset at once), and
    no page inside the region may be left uncovered (Unikraft gives it to its heap,
    and bbuddy prints an error for a one-page piece)."""
    from spacer.demo import SRC_DIR
    from spacer.demo.apps import CORE, DemoApp

    src = tmp_path / "src"
    shutil.copytree(SRC_DIR, src)
    (src / "libukquiet").mkdir()
    (src / "libukquiet" / "quiet.c").write_text(QUIET_LIB)
    apps = [DemoApp("loud", CORE + ("ukquiet",), (), "loud: 13", 5),
            # Without unwind tables too (as Unikraft builds): nothing read-only at all.
            DemoApp("quiet", CORE + ("ukquiet",), (("ukquiet", "-DQUIET"), (
                "ukquiet", "-fno-asynchronous-unwind-tables")), "quiet: 7", 5),
            # A third app without it: the library is then a block of its own.
            DemoApp("plain", CORE, (), "plain: 7", 5)]
    for app in apps:
        (src / "apps" / app.name).mkdir()
        main = QUIET_MAIN.replace("APP", f'"{app.name}"')
        if "ukquiet" not in app.libs:
            main = main.replace("int quiet_value(int x);", "#define quiet_value(x) 7")
        (src / "apps" / app.name / "main.c").write_text(main)
    ws = build_fleet(tmp_path / "ws", apps, src_root=src)
    out = tmp_path / "out"
    _align(ws, out, seed=1, apps=("loud", "quiet", "plain"))
    entries = json.loads((out / "manifest.json").read_text())["apps"]
    for app in apps:
        with Path(entries[app.name]["aligned"]["debug"]).open("rb") as f:
            loads = [(s["p_vaddr"], s["p_memsz"]) for s in ELFFile(f).iter_segments()
                     if s["p_type"] == "PT_LOAD"]
        assert all(size for _, size in loads), f"{app.name}: an empty segment"
        info = json.loads((out / "aslr" / f"{app.name}.json").read_text())["aslr"]
        lo, hi = info["region_base"], info["region_base"] + info["region"]
        covered = lo
        for start, size in sorted(loads):
            if start + size <= lo or start >= hi:
                continue
            assert start <= covered, f"{app.name}: a hole at {covered:#x}-{start:#x}"
            covered = max(covered, -(-(start + size) // 4096) * 4096)
        assert covered >= hi
        result = boot(Path(entries[app.name]["aligned"]["image"]), timeout=30)
        assert (result.output.strip(), result.exit_code) == (app.expected_output, 5)


def test_a_library_with_another_table_is_another_variant():
    """Two configurations of a library can compile to the same bytes once every reference
    goes through its table (slot i calls one allocator's init in one app, another's in
    the other): their facts must not pass for one variant, or the planner would give
    one app the other's table (a link error, or the wrong function called)."""
    from spacer.core.formats.slices import Table
    from spacer.core.stages.pic import _with_table

    bbuddy = Table("__spacer_got_libukboot", [("uk_allocbbuddy_init", False)])
    region = Table("__spacer_got_libukboot", [("uk_allocregion_init", False)])
    digest = "0123456789abcdef01234567"
    assert _with_table(digest, bbuddy) != _with_table(digest, region)
    assert _with_table(digest, bbuddy) == _with_table(digest, Table(bbuddy.symbol,
                                                                    list(bbuddy.entries)))
    assert len(_with_table(digest, bbuddy)) == len(digest)
