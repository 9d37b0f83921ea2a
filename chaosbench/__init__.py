"""chaosbench: reusable Locust users and the pieces that tie load, chaos and results together.

- ``chaosbench.users``: abstract base users (HTTP API, WebSocket, PostgreSQL, Redis) to subclass
  for your own system;
- ``chaosbench.integrity``: the process-wide integrity counters the users feed;
- ``chaosbench.looplag``: the gevent loop-lag probe.
"""

__version__ = "0.1.0"
