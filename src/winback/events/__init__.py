"""Events: the schema at the edge, the domain event, and durable, idempotent ingest."""
