"""Readers of what a build holds: ELF objects and images, linker scripts and link maps, the
recorded build commands, workspaces."""
