"""What every pipeline task shares: one-line failures, the command log, the paths a
build gives each stage, and the code digest that makes a changed spacer rerun its
stages."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from spacer.core.options import plan_values, recorded, stage_settings
from spacer.core.outputs.paths import OutputLayout, debug_image, image_path
from spacer.core.planner.model import PlanOptions
from spacer.core.readers.workspace import AppBuild
from spacer.core.stages.extract import recorded_inputs, recorded_objects
from spacer.core.stages.pic import pic_outputs
from spacer.engine.failures import failing_as_one_line

PIPELINE = Path(__file__).resolve().parent.parent


def code_digest() -> str:
    """A digest of spacer's own pipeline code (``core/`` and ``tasks/``, not the
    benches or measurement): a spacer that plans or links differently reruns every
    stage (doit cannot see a change of the code behind an action)."""
    digest = hashlib.sha256()
    for path in sorted([*PIPELINE.glob("core/**/*.py"), *PIPELINE.glob("tasks/*.py")]):
        digest.update(str(path.relative_to(PIPELINE)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def versioned(tasks: Iterator[dict]) -> Iterator[dict]:
    """Each task's settings (its ``config``) plus spacer's code digest, in one
    ``config_changed``: doit keeps one value per task for it, so two would undo
    each other and the task would never be up to date."""
    code = code_digest()
    for task in tasks:
        if task.get("actions"):
            task["uptodate"] = [config_changed({"spacer": code, **task.pop("config", {})})]
        yield task


def one_line(fn: Callable) -> Callable:
    """A doit action that fails with one line and its kind's exit status."""
    return failing_as_one_line(fn)


def log_command(line: str) -> None:
    print(f"  $ {line}")


def group(basename: str, doc: str) -> dict:
    """The task that names a stage and runs all of its sub-tasks (``doit extract``)."""
    return {"basename": basename, "name": None, "doc": doc}


def original_images(app: AppBuild) -> list[str]:
    """The build's bootable and debug image."""
    image = image_path(app)
    return [str(image), str(debug_image(image))]


@dataclass(frozen=True)
class Pipeline:
    """What every stage's task generator is given: the apps, where outputs go, the
    planner's options and the run's switches."""

    apps: list[AppBuild]
    layout: OutputLayout
    values: dict[str, Any]  # every option's value (spacer.core.options)
    verbose: bool = False

    @functools.cached_property
    def options(self) -> PlanOptions:
        return PlanOptions(**plan_values(self.values))

    @property
    def seed(self) -> int:
        return self.values["seed"]

    @property
    def replan(self) -> bool:
        return self.values["replan"]

    @property
    def recorded(self) -> dict[str, Any]:
        """What ``layout.json`` records of the options."""
        return recorded(self.values)

    def settings(self, stage: str) -> dict[str, Any]:
        """The options that change ``stage``'s output (its ``config_changed``)."""
        return stage_settings(stage, self.values)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.apps]

    @functools.cached_property
    def inputs(self) -> dict[str, list[str]]:
        """Every file a stage reads from each build (read once)."""
        return {app.name: recorded_inputs(app) for app in self.apps}

    @functools.cached_property
    def objects(self) -> dict[str, list[str]]:
        """The objects each build's link names (none while it cannot be read)."""
        return {app.name: recorded_objects(app) for app in self.apps}

    def facts(self, app: str) -> Path:
        """The app's object facts the later stages read: extract's, or under
        ``--aslr`` the pic stage's."""
        return self.layout.pic(app) if self.options.aslr else self.layout.extract(app)

    def linked_objects(self, app: str) -> list[str]:
        """The objects the app's facts describe: the build's, or under ``--aslr`` the
        pic stage's copies with tables."""
        if not self.options.aslr:
            return self.objects[app]
        return pic_outputs(self.objects[app], self.layout.pic_dir(app))[::2]

    def placed(self, app: str) -> Path:
        """What lds, relink and verify follow: the plan slice, or under ``--aslr 2``
        the map that places the slice's libraries for this image."""
        return (self.layout.aslr_map(app) if self.options.moving
                else self.layout.plan_slice(app))

    @property
    def log(self) -> Callable[[str], None] | None:
        return log_command if self.verbose else None
