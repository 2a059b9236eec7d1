"""spacer: relink a fleet of unikernels so identical libraries share memory pages."""

__version__ = "0.1.0"
