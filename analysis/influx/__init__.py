"""Streaming to InfluxDB: schema, spool, sender thread, and ``python -m analysis.influx send``."""

from analysis.influx.config import InfluxConfig
from analysis.influx.spool import Spool
from analysis.influx.streamer import InfluxStreamer

__all__ = ["InfluxConfig", "InfluxStreamer", "Spool"]
