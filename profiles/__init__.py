"""The bundled chaos profiles: package data chaosbench.bundled.profiles (chaosbench/bundled)."""
