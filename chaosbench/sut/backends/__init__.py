"""The SUT's dependencies: PostgreSQL (orders) and Redis (cache, rate limits, quotes, replay)."""
