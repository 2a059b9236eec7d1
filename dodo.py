"""doit entry point: ``doit align [workspace=DIR] [out=DIR] [apps=a,b]``, ``doit fleet``,
``doit relink:<app>``, ``doit list``. With no workspace, the demo fleet (built first)."""

from doit import get_var

from spacer.tasks.config import settings_from_vars
from spacer.tasks.loader import namespace

globals().update(namespace(settings_from_vars(get_var)))
