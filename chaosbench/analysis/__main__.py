"""``python -m chaosbench.analysis``: see ``chaosbench.analysis.cli``."""

import sys

from chaosbench.analysis.cli import main

sys.exit(main())
