"""Safety: the allowlist, the kill switch and the exit paths (signals, atexit).

``chaosbench.chaos.safety.kill_switch(reason="...")`` reverts every injected fault and stops
further bursts.
"""

from chaosbench.chaos.safety.allowlist import DEFAULT_ALLOW, Allowlist
from chaosbench.chaos.safety.exits import install_exit_handlers
from chaosbench.chaos.safety.killswitch import active, kill_switch

__all__ = ["DEFAULT_ALLOW", "Allowlist", "active", "install_exit_handlers", "kill_switch"]
