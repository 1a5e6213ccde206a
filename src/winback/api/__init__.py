"""The HTTP API (FastAPI): one module per resource, schemas at the edge."""
