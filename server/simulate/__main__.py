"""`python -m server.simulate`."""

import sys

from server.simulate.cli import main

sys.exit(main())
