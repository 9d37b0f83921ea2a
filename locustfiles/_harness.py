"""The one place where chaosbench is wired into Locust: every locustfile here imports it first.

The wiring itself lives in ``chaosbench.harness`` so that a locustfile of your own, outside this
folder, gets the same by ``import chaosbench.harness``.
"""

import chaosbench.harness  # noqa: F401
