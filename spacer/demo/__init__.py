"""The demo fleet: a tiny Unikraft-like framework, its apps and its builder."""

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
SRC_DIR = DEMO_DIR / "src"
LDS_DIR = DEMO_DIR / "lds"
SCRIPTS_DIR = DEMO_DIR / "scripts"
