"""``python -m chalicelib.devserver``: see `chalicelib.devserver.cli`."""

import sys

from chalicelib.devserver.cli import main

sys.exit(main())
