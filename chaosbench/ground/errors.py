"""All errors chaosbench raises on purpose. Third-party errors are translated where they occur.

    ChaosbenchError                 base: a one-line message naming what is wrong and where
    ├── ConfigError                 bad input before any load starts
    │   ├── ProfileError            chaos profile (field path in the message)
    │   ├── GateConfigError         gate config
    │   └── OptionError             a command-line option / environment variable
    ├── TargetUnreachable           a server (PostgreSQL, Redis, HTTP, WS) does not answer at start
    ├── ChaosError                  chaos could not act safely
    │   ├── AllowlistError          a fault target is not on the allowlist
    │   ├── FaultError              inject/revert of one fault failed
    │   └── ProxyError              the fault proxy API refused or failed (incl. extension
    │                               toxics against a real Toxiproxy)
    ├── RunDirError                 a run directory is damaged, truncated or of another format
    └── StreamError                 the InfluxDB streamer cannot be configured

Entry points (Locust plugin, command lines) catch ``ChaosbenchError`` and print
``chaosbench: <message>`` on one line, never a traceback, then exit with code 2.
"""

from __future__ import annotations


class ChaosbenchError(Exception):
    """Base class; ``str(err)`` is the one-line message shown to the user."""


class ConfigError(ChaosbenchError):
    pass


class ProfileError(ConfigError):
    pass


class GateConfigError(ConfigError):
    pass


class OptionError(ConfigError):
    pass


class TargetUnreachable(ChaosbenchError):
    pass


class ChaosError(ChaosbenchError):
    pass


class AllowlistError(ChaosError):
    pass


class FaultError(ChaosError):
    pass


class ProxyError(ChaosError):
    pass


class RunDirError(ChaosbenchError):
    pass


class StreamError(ChaosbenchError):
    pass


#: Process exit codes (documented in the README): the verdict of a run.
EXIT_PASS = 0
EXIT_GATE_FAILED = 1
EXIT_CANNOT_MEASURE = 2
