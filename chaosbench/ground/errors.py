"""All errors chaosbench raises on purpose.

    ChaosbenchError                 base: a one-line message naming what is wrong and where
    ├── ConfigError                 bad input before any load starts
    │   ├── ProfileError            chaos profile (field path in the message)
    │   ├── GateConfigError         gate config
    │   └── OptionError             a command-line option / environment variable
    ├── TargetUnreachable           a server (PostgreSQL, Redis, HTTP, WS) cannot be connected
    │                               to: it does not answer or refuses (users' probe at test
    │                               start, the faults' admin connections)
    ├── ChaosError                  chaos could not act safely
    │   ├── AllowlistError          a fault target is not on the allowlist
    │   ├── FaultError              a fault's setting or state cannot work (a pid that is
    │   │                           gone, a command that failed, a malformed ledger)
    │   └── ProxyError              the fault proxy API refused or failed (incl. extension
    │                               toxics against a real Toxiproxy)
    ├── RunDirError                 a run directory is damaged, truncated or of another format
    └── StreamError                 the InfluxDB streamer cannot be configured

Errors are translated at the boundaries and raw below them: below, code lets the library's
own errors through (psycopg, redis, OSError, ValueError) or raises one of these where it adds a
fact (which target, which setting). The boundaries — the scheduler's inject and revert, the
profile and gate loaders, the options — turn what they catch into one line, once
(``chaosbench.ground.translate``): a ``ChaosbenchError`` passes through unchanged, never
wrapped twice; the message is bounded (``ground.text.one_line``) and its secrets masked
(``ground.redact``).

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
EXIT_MEANING = {
    EXIT_PASS: "the gate passed",
    EXIT_GATE_FAILED: "the gate failed",
    EXIT_CANNOT_MEASURE: "could not run or measure",
}
