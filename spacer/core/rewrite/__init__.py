"""Binary and script rewriting: position-independent rebuilds, indirection tables,
configured strings, linker scripts."""
