"""Every stored datetime is aware UTC on both databases; a naive one never gets in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.store.tables import processor_cursors

INDIA = timezone(timedelta(hours=5, minutes=30))


def store(engine: Engine, name: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(processor_cursors.insert().values(name=name, position=0, updated_at=at))


def load(engine: Engine, name: str) -> datetime:
    with engine.connect() as conn:
        value: datetime = conn.execute(
            sa.select(processor_cursors.c.updated_at).where(processor_cursors.c.name == name)
        ).scalar_one()
    return value


def test_an_aware_utc_datetime_round_trips_as_aware_utc(engine: Engine) -> None:
    at = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=UTC)

    store(engine, "utc", at)
    loaded = load(engine, "utc")

    assert loaded == at
    assert loaded.utcoffset() == timedelta(0)
    assert loaded.microsecond == 123456


def test_an_aware_datetime_in_another_zone_comes_back_as_the_same_instant_in_utc(
    engine: Engine,
) -> None:
    at = datetime(2026, 11, 24, 15, 0, tzinfo=INDIA)

    store(engine, "india", at)
    loaded = load(engine, "india")

    assert loaded == at
    assert loaded.utcoffset() == timedelta(0)
    assert (loaded.hour, loaded.minute) == (9, 30)


def test_a_naive_datetime_is_refused_and_nothing_is_stored(engine: Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store(engine, "naive", datetime(2026, 11, 24, 9, 30))

    with engine.connect() as conn:
        assert conn.execute(sa.select(processor_cursors)).all() == []


def test_utc_datetimes_order_by_instant(engine: Engine) -> None:
    early = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    store(engine, "b-late-in-india", datetime(2026, 11, 24, 15, 0, tzinfo=INDIA))  # 09:30 UTC
    store(engine, "a-early", early)
    store(engine, "c-earliest", early - timedelta(microseconds=1))

    with engine.connect() as conn:
        names = conn.execute(
            sa.select(processor_cursors.c.name).order_by(processor_cursors.c.updated_at)
        ).scalars()
        assert list(names) == ["c-earliest", "a-early", "b-late-in-india"]
