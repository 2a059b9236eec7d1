"""doit's process runner made safe to interrupt, and one-line task failures."""
