"""The proxy faults: one fault type per toxic of the fault proxy that declares a profile name
(``chaosbench/proxy/toxics/``), built by ``_toxic.toxic_fault``. There is no module per proxy
fault: the toxic's module declares the fault's settings and how intensity scales them.
"""

from __future__ import annotations

from chaosbench.chaos.faults._toxic import toxic_fault
from chaosbench.chaos.faults.base import FAULTS
from chaosbench.proxy.toxics import catalogue as toxic_catalogue


def _register_proxy_faults() -> None:
    for toxic in toxic_catalogue().values():
        if toxic.profile_name is not None:
            FAULTS.register(toxic_fault(toxic))


_register_proxy_faults()
