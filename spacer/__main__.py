"""``python -m spacer ...``: the same as the ``spacer`` command."""

import sys

from spacer.cli import main

sys.exit(main())
