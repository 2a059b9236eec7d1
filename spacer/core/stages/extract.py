"""Stage 1, per app: the objects, sections and recorded commands of one build."""

from __future__ import annotations

from pathlib import Path

from spacer.core.errors import BadInput, SpacerError
from spacer.core.formats.facts import AppFacts, KindFacts, ObjectFacts
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.readers.elf import EM_386, EM_X86_64, MACHINES, SHF_ALLOC, ElfFile, reading
from spacer.core.readers.ldparse import Script, parse_script
from spacer.core.readers.objects import content_chunks, object_name, read_object
from spacer.core.readers.placement import (
    find_anchors,
    head_size,
    kind_extent,
    movable_sections,
    place_object,
)
from spacer.core.readers.recipe import read_link_recipe
from spacer.core.readers.workspace import AppBuild
from spacer.core.sharing.pages import image_pages


def load_scripts(scripts: list, default: str) -> tuple[list[Script], int]:
    """The link's scripts in ld's matching order (-T first, then the -dT ``default``),
    and the index of the default one. ``scripts`` holds ``(kind, path)`` pairs."""
    ordered = [p for k, p in scripts if k == "T"] + [default]
    parsed = []
    for path in ordered:
        p = Path(path)
        if not p.is_file():
            raise BadInput("linker script missing", p, "rebuild the unikernel")
        parsed.append(parse_script(p.read_text(errors="replace"), str(p)))
    return parsed, len(parsed) - 1


def check_machine(path: Path, machines: tuple[int, ...]) -> None:
    """:class:`BadInput` unless the ELF file at ``path`` is for one of ``machines``
    (``e_machine``; the multiboot image is ELF32, so EM_386 for an x86_64 kernel)."""
    with path.open("rb") as f, reading(path), ElfFile.open(f) as elf:
        machine = elf.e_machine
    if machine not in machines:
        raise BadInput(f"wrong machine {machine}, spacer handles x86_64 only", path,
                       "rebuild the unikernel")


def image_sections(path: Path) -> dict[str, list[int]]:
    """Allocated output sections of a linked image: name -> [address, size]."""
    if not path.is_file():
        raise BadInput("linked image missing", path, "rebuild the unikernel")
    with path.open("rb") as f, reading(path), ElfFile.open(f) as elf:
        if elf.e_machine != EM_X86_64 or elf.elfclass != 64 or not elf.little_endian:
            machine = MACHINES.get(elf.e_machine, elf.e_machine)
            raise BadInput(f"wrong machine {machine} (ELF{elf.elfclass}); "
                           "spacer handles x86_64 debug images only", path,
                           "rebuild the unikernel")
        return {s.name: [s.addr, s.size] for s in elf.sections if s.flags & SHF_ALLOC and s.name}


INTERPRETERS = ("python", "sh", "bash", "perl")


def recorded_objects(app: AppBuild) -> list[str]:
    """The objects ``app``'s recorded link names; none while it cannot be read."""
    try:
        return list(read_link_recipe(Path(app.link_cmd), Path(app.app_dir)).objects)
    except SpacerError:
        return []


def recorded_inputs(app: AppBuild) -> list[str]:
    """Every file the pipeline reads from ``app``'s build, as its recorded commands
    name them: the objects, the linker scripts and the post-link programs. Empty when
    the build is not there yet (the demo fleet before it is built): extract says
    what is missing when it runs."""
    try:
        recipe = read_link_recipe(Path(app.link_cmd), Path(app.app_dir))
    except SpacerError:
        return []
    tools = []
    for step in recipe.postlink:
        # The program, and the script an interpreter runs (the demo's multiboot step).
        runs = step.argv[:2] if Path(step.argv[0]).name.startswith(INTERPRETERS) else step.argv[:1]
        for arg in runs:
            program = Path(arg) if Path(arg).is_absolute() else Path(recipe.cwd) / arg
            if program.is_file():
                tools.append(str(program))
    scripts = [path for _, path in recipe.scripts]
    return sorted({*recipe.objects, *scripts, *tools, *(s.cmd_file for s in recipe.postlink
                                                        if Path(s.cmd_file).is_file())})


def extract_app(app: AppBuild) -> AppFacts:
    """Everything later stages need of ``app``."""
    recipe = read_link_recipe(Path(app.link_cmd), Path(app.app_dir))
    scripts, default_index = load_scripts(recipe.scripts, recipe.default_script)
    anchors = find_anchors(scripts[default_index])
    if "text" not in anchors:
        raise BadInput("no output section collects .text", recipe.default_script)
    sections = image_sections(Path(recipe.debug_image))
    try:  # a damaged bootable image fails here, not in the last task
        image_pages(Path(recipe.image))
        check_machine(Path(recipe.image), (EM_386, EM_X86_64))
    except BadInput as exc:
        raise BadInput(f"bootable image: {exc.what}", recipe.image,
                       "rebuild the unikernel") from None
    objects = []
    text_head = 0
    for path in recipe.objects:
        facts, head = object_facts(Path(path), path, scripts, default_index, anchors)
        objects.append(facts)
        text_head += head
    return AppFacts(
        app=app.name,
        build_dir=str(Path(app.build_dir).resolve()),
        recipe=recipe,
        anchors=anchors,
        text_head=text_head,
        objects=objects,
        anchor_addresses=anchor_addresses(scripts[default_index], anchors, sections),
        image_end=max((a + s for a, s in sections.values()), default=0),
    )


def movable_names(path: Path, link_path: str, scripts: list[Script], default_index: int,
                  anchors: dict) -> set[str]:
    """Names of the sections of ``path`` that would move into its library's slot: the
    rest (boot code, per-image tables the script collects) stays where the image
    puts it."""
    kinds = movable_sections(place_object(read_object(path), link_path, scripts),
                             default_index, anchors)
    return {n for names, _ in kinds.values() for n in names}


def object_facts(path: Path, link_path: str, scripts: list[Script], default_index: int,
                 anchors: dict) -> tuple[ObjectFacts, int]:
    """What the planner needs of one object, and its bytes in the boot-only head of
    ``.text``. ``link_path`` is the path the build's scripts see (their patterns match
    it); ``path`` the file read, which may be spacer's rebuilt copy."""
    obj = read_object(path)
    obj_name = object_name(Path(link_path))
    placed = place_object(obj, link_path, scripts)
    kinds = movable_sections(placed, default_index, anchors)
    extents = {k: kind_extent(obj, names) for k, (names, _) in kinds.items()}
    head = head_size(obj, placed, default_index, anchors["text"])
    # What moves with the object: its slotted sections, its global symbols, and
    # the local ones (".LC0" constants) defined in slotted sections.
    movable = {n for names, _ in kinds.values() for n in names}
    local = movable | set(obj.defined) | {sym for sym, sec in obj.local_symbols.items()
                                          if sec in movable}
    facts = ObjectFacts(
        path=str(path),
        name=obj_name,
        digest=obj.digest,
        kinds={k: KindFacts(names, extents[k][0], extents[k][1], extents[k][2], keep,
                            sum(obj.absolute.get(n, 0) for n in names),
                            sorted({sym for n in names for sym in obj.refs.get(n, ())
                                    if sym not in local}))
               for k, (names, keep) in kinds.items() if extents[k][0] > 0},
        defined=list(obj.defined),
        head=head,
        # Read-only content by segment (code apart), for the packed lower bound.
        chunks=content_chunks(path, {
            "text": [s.name for s in obj.sections if s.executable],
            "rodata": [s.name for s in obj.sections
                       if not (s.writable or s.executable or s.tls or s.nobits)]}),
    )
    return facts, head


def anchor_addresses(script: Script, anchors: dict, sections: dict[str, list[int]]) -> dict:
    """Where each anchor began in the original image. ld drops an empty output section
    (e.g. ``.tdata`` in an image without initialised TLS): then the next output section
    of the script that the image has marks the spot."""
    names = [o.name for o in script.outputs]
    end = max((a + s for a, s in sections.values()), default=0)
    found = {}
    for kind, anchor in anchors.items():
        later = names[names.index(anchor.output):]
        found[kind] = next((sections[n][0] for n in later if n in sections), end)
    return found


def run_extract(app: AppBuild, out: Path) -> None:
    write_json_atomic(out, extract_app(app).to_json(), only_if_changed=True)
