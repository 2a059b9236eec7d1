"""doit entry point: ``doit align [workspace=DIR] [aslr=1] ...``, ``doit fleet``,
``doit relink:<app>``, ``doit list``, ``doit help align`` (every variable). With no
workspace, the demo fleet (built first)."""

import sys

import doit.doit_cmd

from spacer.core.errors import SpacerError
from spacer.run.loader import hold_output_lock, namespace, selected_apps
from spacer.run.settings import settings_from_vars

try:  # a bad workspace, variable or output folder is one line, as with `spacer align`
    # doit keeps the command line's NAME=VALUE pairs here (doit.get_var reads them).
    _settings = settings_from_vars(doit.doit_cmd._CMDLINE_VARS)
    if not _settings.demo:
        selected_apps(_settings)
    globals().update(namespace(_settings))
    hold_output_lock(_settings, sys.argv)  # one run per output folder, as `spacer align`
except SpacerError as _err:
    print(f"spacer: {_err.line()}", file=sys.stderr)
    sys.exit(_err.exit_code)
