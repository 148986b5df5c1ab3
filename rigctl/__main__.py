"""Allow ``python -m rigctl``."""

import sys

from rigctl.cli import main

sys.exit(main())
