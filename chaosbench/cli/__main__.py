"""``python -m chaosbench.cli COMMAND ...``: the ``chaosbench`` console script, uninstalled."""

import sys

from chaosbench.cli import main

sys.exit(main())
