"""A failing tool is shown by the lines that give its cause, not its last line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from spacer.core.errors import ExternalFailure
from spacer.core.programs import run_argv


def test_ld_relocation_overflow_names_its_cause(tmp_path: Path):
    # Two absolute 32-bit references to data linked above 4 GiB: ld cannot fit them.
    src = tmp_path / "far.c"
    src.write_text("int x; int y; long f(void) { return (long)&x; }\n"
                   "long g(void) { return (long)&y; }\n")
    obj = tmp_path / "far.o"
    subprocess.run(["gcc", "-c", "-O2", "-fno-pic", "-mcmodel=small", str(src), "-o", str(obj)],
                   check=True)
    argv = ["gcc", "-nostdlib", "-no-pie", "-Wl,-e,f", "-Wl,-Ttext=0x100000000",
            str(obj), "-o", str(tmp_path / "far")]
    with pytest.raises(ExternalFailure) as err:
        run_argv(argv, str(tmp_path), "the test link", None)
    line = err.value.line()
    assert "relocation truncated to fit" in line
    assert "in function" in line  # where it happened, on the same line
    assert "(and 1 more like it)" in line
    assert "collect2" not in line and "\n" not in line
