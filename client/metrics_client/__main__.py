"""`python -m metrics_client tail | alerts`."""

import sys

from metrics_client.cli import main

sys.exit(main())
