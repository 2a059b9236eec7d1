"""The output folder: where each output goes, atomic writes, one run at a time."""
