"""Import this from your own locustfile to wire chaosbench into Locust.

locustfiles/_harness.py does exactly this for the bundled locustfiles.
"""

from locust import events

import chaosbench.users.options
import chaosbench.wiring.chaos
import chaosbench.wiring.console
import chaosbench.wiring.results

chaosbench.users.options.install(events)
chaosbench.wiring.chaos.install(events)
chaosbench.wiring.console.install()
chaosbench.wiring.results.install(events)
