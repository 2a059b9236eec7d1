"""Plain-Python algorithms of spacer: no doit, no rich, no terminal."""
