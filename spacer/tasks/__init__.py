"""doit wiring: each module turns core functions into task dicts."""
