"""Import this from your own locustfile to wire chaosbench into Locust.

locustfiles/_harness.py does exactly this for the bundled locustfiles.
"""

from locust import events

import analysis.plugin
import chaos.console
import chaos.plugin
import chaosbench.options

chaosbench.options.install(events)
chaos.plugin.install(events)
chaos.console.install()
analysis.plugin.install(events)
