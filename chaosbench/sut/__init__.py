"""The reference system under test: a small, honest order gateway (HTTP API + WebSocket feed)."""
