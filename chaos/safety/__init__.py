"""Safety: the allowlist, the kill switch and the exit paths (signals, atexit).

``chaos.safety.kill_switch(reason="...")`` reverts every injected fault and stops further bursts.
"""

from chaos.safety.allowlist import DEFAULT_ALLOW, Allowlist
from chaos.safety.exits import install_exit_handlers
from chaos.safety.killswitch import active, kill_switch

__all__ = ["DEFAULT_ALLOW", "Allowlist", "active", "install_exit_handlers", "kill_switch"]
