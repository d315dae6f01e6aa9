"""``python -m srcnn``: the same as the ``srcnn`` command."""

import sys

from .cli import main

sys.exit(main())
