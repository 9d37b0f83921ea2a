"""Import this from your own locustfile to wire chaosbench into Locust.

locustfiles/_harness.py does exactly this for the bundled locustfiles. Each Locust Environment
then gets one harness object, ``environment.chaosbench`` (``chaosbench.wiring.harness.Harness``),
created at ``init``: the run's shared state, profile, proxy, scheduler, recording and kill switch.
"""

from locust import events

import chaosbench.users.options
import chaosbench.wiring.chaos
import chaosbench.wiring.console
import chaosbench.wiring.gcfreeze
import chaosbench.wiring.plain
import chaosbench.wiring.processes
import chaosbench.wiring.results
import chaosbench.wiring.routes
import chaosbench.wiring.webui

chaosbench.wiring.plain.install(events)  # first: no --host starts the reference system
chaosbench.wiring.routes.install(events)  # then the routes' addresses, before the probe
chaosbench.users.options.install(events)
chaosbench.wiring.chaos.install(events)
chaosbench.wiring.console.install(events)
chaosbench.wiring.gcfreeze.install(events)
chaosbench.wiring.processes.install(events)
chaosbench.wiring.results.install(events)
chaosbench.wiring.webui.install_events(events)
