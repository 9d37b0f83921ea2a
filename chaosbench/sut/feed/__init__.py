"""The WebSocket feed: sequence-numbered quote and order messages with a bounded replay buffer."""
