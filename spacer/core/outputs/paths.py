"""Where every stage writes, under the output folder: the one place that names each
output's path, so a stage and the task that declares it as a target agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacer.core.readers.workspace import AppBuild

LINK_RECORD = ".dbg.cmd"  # Unikraft's record of the final link: <image>.dbg.cmd


def image_path(app: AppBuild, folder: Path | None = None) -> Path:
    """The bootable image of ``app``, named after its link record ``<image>.dbg.cmd``:
    in the build's folder (the original), or in ``folder`` (spacer's relinked one).
    The debug image and the link map sit beside it (:func:`debug_image`,
    :func:`link_map`)."""
    record = Path(app.link_cmd)
    return (folder or record.parent) / record.name.removesuffix(LINK_RECORD)


def debug_image(image: Path) -> Path:
    """The ELF64 image with symbols that the bootable ``image`` was made from."""
    return image.with_name(image.name + ".dbg")


def link_map(image: Path) -> Path:
    """The relink's map of where every section of ``image`` went."""
    return image.with_name(image.name + ".map")


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

    def pic_inputs_memo(self, app: str) -> Path:
        """What the pic stage of ``app`` reads from its build, as last found."""
        return self.root / "cache" / "inputs" / f"{app}.json"

    @property
    def compile_cache(self) -> Path:
        """The fleet's position-independent compiles, shared by the apps' pic stages."""
        return self.root / "cache" / "compiles"

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
        return image_path(app, self.app_dir(app.name))

    def debug_image(self, app: AppBuild) -> Path:
        return debug_image(self.image(app))

    def verify(self, app: str) -> Path:
        return self.app_dir(app) / "verify.json"

    @property
    def pool_dir(self) -> Path:
        """``-c``: the pool files, ``pool.json``, and each app's loader image and patch."""
        return self.root / "pool"

    @property
    def pool_facts(self) -> Path:
        return self.pool_dir / "pool.json"

    def pool_image(self, app: AppBuild) -> Path:
        """The app's loader image: its bootable image without the pool's pages."""
        return image_path(app, self.pool_dir / app.name)

    def pool_patch(self, app: str) -> Path:
        return self.pool_dir / app / "patch.elf"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"
