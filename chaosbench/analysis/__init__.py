"""analysis: recording, the run directory, InfluxDB streaming, statistics, the gate and reports."""
