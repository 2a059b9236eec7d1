"""Where every stage writes, under the output folder: the one place that names each
output's path, so a stage and the task that declares it as a target agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacer.core.readers.workspace import AppBuild


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
