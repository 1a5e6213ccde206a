"""Column types that behave the same on SQLite and PostgreSQL.

:class:`UTCDateTime` stores aware UTC datetimes. PostgreSQL gets ``timestamptz``; SQLite, which
has no time-zone type, stores naive UTC text and gets ``tzinfo=UTC`` back on read. Naive values
are refused on the way in, so no local time can sneak into the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from winback.payment import may_hold_payment, scrub_payment


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime passed to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_dumps(value: Any) -> str:
    """The engine's JSON serializer (orjson: fast, and datetimes become RFC 3339).

    Every JSON column is written through here, so no card number or IBAN is ever stored in
    one (timeline data, outbox payloads, remembered answers, event payloads; docs/privacy.md):
    a document the cheap pre-check flags is scrubbed and serialised again."""
    out = orjson.dumps(value)
    if may_hold_payment(out):
        scrubbed = scrub_payment(value)
        if scrubbed is not value:
            out = orjson.dumps(scrubbed)
    return out.decode()


# A JSON document column: JSONB on PostgreSQL (indexable), JSON text on SQLite.
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# Auto-incrementing 64-bit keys. SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
BigID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
