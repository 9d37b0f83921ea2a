"""The bundled gates: package data ``chaosbench.bundled.gates`` (see chaosbench/bundled)."""
