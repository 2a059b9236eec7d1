"""Measurement of running fleets: guests under QEMU, their physical frames, KSM and THP settings."""
