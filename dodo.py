"""doit entry point: ``doit align [workspace=DIR] [out=DIR] [apps=a,b]``, ``doit fleet``,
``doit relink:<app>``, ``doit list``. With no workspace, the demo fleet (built first)."""

import sys

from doit import get_var

from spacer.tasks.config import settings_from_vars
from spacer.tasks.loader import hold_output_lock, namespace

_settings = settings_from_vars(get_var)
globals().update(namespace(_settings))
hold_output_lock(_settings, sys.argv)  # one run per output folder, as `spacer align`
