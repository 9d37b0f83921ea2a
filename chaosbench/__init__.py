"""chaosbench: a load-plus-chaos benchmark harness on Locust.

The parts, and the one direction of their imports (a part imports only parts listed before it):

- ``chaosbench.ground``: errors, clocks, the phase timeline, the journal model, events, integrity
  counters and the switches in-process faults set;
- ``chaosbench.bundled``: the bundled profiles, gates and locustfiles (package data) by name;
- ``chaosbench.proxy``: the Toxiproxy-compatible fault proxy and its toxics;
- ``chaosbench.chaos``: profiles, the scheduler, the fault catalogue, the ledger, safety;
- ``chaosbench.users``: reusable Locust users (HTTP API, WebSocket, PostgreSQL, Redis) to subclass;
- ``chaosbench.analysis``: recording, the run directory, InfluxDB, statistics, the gate, reports;
- ``chaosbench.wiring``: one harness per Locust Environment (``import chaosbench.harness``);
- ``chaosbench.cli``: the ``chaosbench`` command line and the main job.

``chaosbench.sut`` (the reference system under test) imports nothing of the above.
"""

__version__ = "0.1.0"
