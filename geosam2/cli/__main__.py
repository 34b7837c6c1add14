"""`python -m geosam2.cli ...` (e.g. under torchrun)."""

import sys

from . import main

sys.exit(main())
