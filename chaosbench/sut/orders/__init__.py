"""Orders: request validation and durable storage in PostgreSQL."""
