"""`python -m iofdtui`."""

import sys

from iofdtui.cli import main

sys.exit(main())
