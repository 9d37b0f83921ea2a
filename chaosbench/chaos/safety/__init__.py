"""Safety: the allowlist, the kill switch and the exit paths (signals, atexit).

A harness's ``KillSwitch.kill(reason="...")`` reverts every injected fault and stops further
bursts (``environment.chaosbench.kill_switch`` in a Locust process).
"""

from chaosbench.chaos.safety.allowlist import DEFAULT_ALLOW, Allowlist
from chaosbench.chaos.safety.exits import ExitHandlers
from chaosbench.chaos.safety.killswitch import KillSwitch, Stoppable

__all__ = ["DEFAULT_ALLOW", "Allowlist", "ExitHandlers", "KillSwitch", "Stoppable"]
