"""Storage: SQLAlchemy Core tables, engines, migrations, and the unit of work.

The store is an edge: the domain modules never import it. Tables are SQLAlchemy Core (not ORM
classes), so the same row shapes serve the ingest hot path, the processor's batched unit of work
and the read queries without an identity map in the way.
"""
