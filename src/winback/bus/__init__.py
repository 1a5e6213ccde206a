"""Transports beside the database: the Redis Streams wake-up feed (:mod:`.redis_feed`)."""
