"""The fault catalogue keeps the envelope apart from each fault's own settings; a proxy fault is
its toxic's one module; which toxics are extensions follows from the toxic's kind."""

from __future__ import annotations

import pkgutil
from typing import Any

import pytest

import chaosbench.chaos.faults as faults_pkg
from chaosbench.chaos.faults import FAULTS, Fault, catalogue
from chaosbench.chaos.faults._toxic import ToxicFault
from chaosbench.chaos.profile.model import ENVELOPE_KEYS
from chaosbench.proxy.client import is_extension
from chaosbench.proxy.toxics import catalogue as toxic_catalogue
from chaosbench.proxy.toxics import extension_types


def test_catalogue_has_every_layer() -> None:
    names = set(catalogue())
    for expected in (
        "latency", "bandwidth", "stall", "reset_peer", "slicer", "limit_data", "slow_close",
        "route_down", "http_error", "http_delay", "ws_drop", "ws_delay", "ws_corrupt",
        "ws_reorder", "pg_terminate_backends", "pg_lock_contention", "pg_connection_exhaustion",
        "pg_slow_queries", "redis_client_pause", "redis_client_kill", "redis_memory_pressure",
        "process_stop", "process_restart", "cpu_hog", "memory_balloon", "dns_failure",
        "clock_skew", "integrity_canary", "packet_loss",
    ):  # fmt: skip
        assert expected in names, expected


def test_no_fault_setting_shadows_an_envelope_key() -> None:
    """A setting named like an envelope key (name, bursts, start, ...) could never be set from a
    profile: the scheduler takes those keys first."""
    clashes = {
        t: sorted(set(cls.Settings.model_fields) & ENVELOPE_KEYS) for t, cls in catalogue().items()
    }
    assert {t: c for t, c in clashes.items() if c} == {}


def test_a_proxy_fault_is_its_toxic_module_only() -> None:
    """Every toxic that declares a profile name is a fault of that name, built from the toxic
    (its settings are the toxic's Profile), and chaos/faults/ has no module for it."""
    faults = catalogue()
    modules = {info.name for info in pkgutil.iter_modules(faults_pkg.__path__)}
    offered = {t: cls for t, cls in toxic_catalogue().items() if cls.profile_name}
    assert len(offered) == len(toxic_catalogue()) >= 14
    for toxic_type, toxic in offered.items():
        name = str(toxic.profile_name)
        fault = faults[name]
        assert issubclass(fault, ToxicFault), name
        assert (fault.toxic_type, fault.Settings) == (toxic_type, toxic.Profile), name
        assert fault.protocols == (() if toxic.kind == "tcp" else ("http",)), name
        assert name not in modules and toxic_type not in modules, name
    assert faults["stall"].toxic_type == "timeout"  # the profile name the toxic declares


def test_extensions_follow_the_toxic_kind() -> None:
    """HTTP and WebSocket toxics are extensions by their kind; of the TCP toxics only the one
    Toxiproxy lacks (packet_loss) says so itself. The client refuses exactly these."""
    toxics = toxic_catalogue()
    non_tcp = {t for t, cls in toxics.items() if cls.kind != "tcp"}
    assert non_tcp == {
        "http_error",
        "http_delay",
        "ws_drop",
        "ws_delay",
        "ws_corrupt",
        "ws_reorder",
    }
    assert extension_types() == non_tcp | {"packet_loss"}
    assert {t for t in toxics if is_extension(t)} == extension_types()
    assert not is_extension("no_such_toxic")


def test_a_name_registered_twice_is_a_clear_error() -> None:
    class Impostor(Fault[Any]):
        type_name = "latency"

    catalogue()
    with pytest.raises(RuntimeError, match="fault type 'latency' registered twice"):
        FAULTS.register(Impostor)
    assert FAULTS.all()["latency"] is not Impostor
    assert FAULTS.register(FAULTS.all()["latency"]) is FAULTS.all()["latency"]  # same: fine
