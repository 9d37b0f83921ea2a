"""Streaming to InfluxDB: schema, spool, sender thread, and ``python -m chaosbench.analysis.influx
send``."""

from chaosbench.analysis.influx.config import InfluxConfig
from chaosbench.analysis.influx.spool import Spool
from chaosbench.analysis.influx.streamer import InfluxStreamer

__all__ = ["InfluxConfig", "InfluxStreamer", "Spool"]
