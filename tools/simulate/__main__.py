"""`python -m tools.simulate`."""

import sys

from tools.simulate.cli import main

sys.exit(main())
