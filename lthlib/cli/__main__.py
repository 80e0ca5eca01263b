"""``python -m lthlib.cli``: the ``lth`` command."""
import sys

from . import main

sys.exit(main())
