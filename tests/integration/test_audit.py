"""The audit trail: a hash chain that names the first record edited, deleted, reordered or
inserted behind its back, survives a customer's erasure, and stays one chain under concurrent
writers (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.clock import FrozenClock
from winback.errors import InvalidInput
from winback.store.audit import (
    GENESIS,
    AuditFilter,
    Verification,
    list_records,
    record,
    record_hash,
    scrub_customer,
    verify,
)
from winback.store.engine import write_connection
from winback.store.tables import audit_log


def write_some(engine: Engine, clock: FrozenClock, n: int = 6) -> None:
    """``n`` records: case assignments for two customers, a roster change, a login."""
    with write_connection(engine) as conn, conn.begin():
        for i in range(1, n + 1):
            clock.advance(timedelta(seconds=1))
            if i % 3 == 0:
                record(
                    conn,
                    actor="user:ana",
                    credential="session",
                    action="roster.update",
                    subject_type="agent",
                    subject_id="bo",
                    before={"capacity": 3, "name": "Bo"},
                    after={"capacity": 5, "name": "Bo"},
                    at=clock.now(),
                )
            else:
                record(
                    conn,
                    actor="user:ana",
                    credential="key:12",
                    action="case.assign",
                    subject_type="case",
                    subject_id=i,
                    before={"owner": None, "status": "new"},
                    after={"owner": "bo", "status": "new"},
                    details={"version": i},
                    customer="cus-1" if i % 2 else "cus-2",
                    personal={"reason": f"cus-{i % 2 + 1} asked for Bo"},
                    at=clock.now(),
                )


def sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def check(
    engine: Engine, anchor: tuple[int, str] | None = None, *, since_anchor: bool = False
) -> Verification:
    with engine.connect() as conn:
        return verify(conn, anchor=anchor, since_anchor=since_anchor)


def test_an_untouched_chain_verifies_and_keeps_only_changed_fields(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    write_some(engine, frozen_clock)
    result = check(engine)
    assert result.ok
    assert result.checked == 6
    assert result.head_seq == 6
    with engine.connect() as conn:
        first, *_ = list_records(conn, AuditFilter(), descending=False)
        roster = list_records(conn, AuditFilter(action="roster.update"))
    assert first["seq"] == 1
    assert first["prev_hash"] == GENESIS
    assert first["before"] == {"owner": None}
    assert first["after"] == {"owner": "bo"}
    assert first["customer_id"] == "cus-1"
    assert first["personal"] == {"reason": "cus-2 asked for Bo"}
    assert [r["seq"] for r in roster] == [6, 3]
    assert roster[0]["before"] == {"capacity": 3}
    assert roster[0]["after"] == {"capacity": 5}


def test_an_edited_record_is_named(engine: Engine, frozen_clock: FrozenClock) -> None:
    write_some(engine, frozen_clock)
    sql(engine, "UPDATE audit_log SET after = :a WHERE seq = 4", a='{"owner":"mallory"}')
    result = check(engine)
    assert result.broken_seq == 4
    assert "edited" in str(result.problem)


def test_an_edited_actor_or_time_is_named(engine: Engine, frozen_clock: FrozenClock) -> None:
    write_some(engine, frozen_clock)
    sql(engine, "UPDATE audit_log SET actor = 'user:bo' WHERE seq = 2")
    assert check(engine).broken_seq == 2


def test_a_deleted_record_is_named(engine: Engine, frozen_clock: FrozenClock) -> None:
    write_some(engine, frozen_clock)
    sql(engine, "DELETE FROM audit_log WHERE seq = 3")
    result = check(engine)
    assert result.broken_seq == 4
    assert "3 deleted" in str(result.problem)


def test_a_deleted_and_renumbered_record_is_named(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    write_some(engine, frozen_clock)
    sql(engine, "DELETE FROM audit_log WHERE seq = 3")
    sql(engine, "UPDATE audit_log SET seq = seq + 100 WHERE seq > 3")
    sql(engine, "UPDATE audit_log SET seq = seq - 101 WHERE seq > 100")
    result = check(engine)
    assert result.broken_seq == 3
    assert "link" in str(result.problem)


def test_reordered_records_are_named(engine: Engine, frozen_clock: FrozenClock) -> None:
    write_some(engine, frozen_clock)
    sql(engine, "UPDATE audit_log SET seq = 100 WHERE seq = 2")
    sql(engine, "UPDATE audit_log SET seq = 2 WHERE seq = 5")
    sql(engine, "UPDATE audit_log SET seq = 5 WHERE seq = 100")
    result = check(engine)
    assert result.broken_seq == 2
    assert "link" in str(result.problem)


def test_an_inserted_record_is_named_even_with_a_correct_hash(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    write_some(engine, frozen_clock)
    # Make room after record 2 and insert a forged record 3, hashed correctly onto record 2.
    sql(engine, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3")
    sql(engine, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 103")
    with engine.connect() as conn:
        two = conn.execute(sa.select(audit_log).where(audit_log.c.seq == 2)).one()._mapping
    forged = {**two, "seq": 3, "actor": "user:mallory", "prev_hash": two["hash"]}
    forged["hash"] = record_hash(str(two["hash"]), forged)
    with engine.begin() as conn:
        conn.execute(audit_log.insert().values(**forged))
    result = check(engine)
    assert result.broken_seq == 4


def test_a_record_appended_by_hand_is_named(engine: Engine, frozen_clock: FrozenClock) -> None:
    write_some(engine, frozen_clock)
    sql(
        engine,
        "INSERT INTO audit_log (seq, at, actor, credential, action, subject_type, prev_hash,"
        " hash) SELECT 7, at, 'user:mallory', 'session', 'remedy.approve', 'grant', hash, :h"
        " FROM audit_log WHERE seq = 6",
        h="f" * 64,
    )
    result = check(engine)
    assert result.broken_seq == 7
    assert "edited" in str(result.problem)


def test_an_anchor_catches_a_cut_off_end_and_verifies_incrementally(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    write_some(engine, frozen_clock)
    head = check(engine)
    anchor = (head.head_seq, head.head_hash)
    write_some(engine, frozen_clock, 3)
    since = check(engine, anchor=anchor, since_anchor=True)
    assert since.ok
    assert since.checked == 3
    assert check(engine, anchor=anchor).ok
    sql(engine, "DELETE FROM audit_log WHERE seq >= 6")
    assert check(engine).ok  # the cut is invisible without the anchor
    assert check(engine, anchor=anchor).broken_seq == 6
    assert check(engine, anchor=anchor, since_anchor=True).broken_seq == 6


def test_scrubbing_a_customer_keeps_the_chain_and_removes_their_identifiers(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    write_some(engine, frozen_clock)
    with write_connection(engine) as conn, conn.begin():
        record(
            conn,
            actor="user:ana",
            credential="session",
            action="customer.export",
            subject_type="customer",
            subject_id="cus-1",
            at=frozen_clock.now(),
        )
        scrubbed = scrub_customer(conn, "cus-1", "erased-7f3a", at=frozen_clock.now())
    assert scrubbed == 3  # assignments 1 and 5 and the export; 2 and 4 concern cus-2
    result = check(engine)
    assert result.ok, result.problem
    with engine.connect() as conn:
        dump = "\n".join(
            " ".join(str(v) for v in row) for row in conn.execute(sa.select(audit_log))
        )
        scrub = list_records(conn, AuditFilter(action="audit.scrub"))[0]
        export = list_records(conn, AuditFilter(action="customer.export"))[0]
    # Records 2 and 4 concern cus-2 but their free text named cus-1: scrubbed with cus-2.
    assert "cus-1" in dump  # until cus-2 is erased too
    assert scrub["subject_id"] == "erased-7f3a"
    assert scrub["details"]["records"] == 3
    assert export["subject_id"] == "erased-7f3a"
    assert export["scrubbed"]
    with write_connection(engine) as conn, conn.begin():
        assert scrub_customer(conn, "cus-2", "erased-91bc", at=frozen_clock.now()) == 2
    with engine.connect() as conn:
        dump = "\n".join(
            " ".join(str(v) for v in row) for row in conn.execute(sa.select(audit_log))
        )
    assert "cus-1" not in dump
    assert "cus-2" not in dump
    assert check(engine).ok


def test_personal_data_removed_by_hand_is_named(engine: Engine, frozen_clock: FrozenClock) -> None:
    write_some(engine, frozen_clock)
    sql(engine, "UPDATE audit_log SET personal = NULL WHERE seq = 2")
    result = check(engine)
    assert result.broken_seq == 2
    assert "without a scrub" in str(result.problem)


def test_an_undone_scrub_is_named(engine: Engine, frozen_clock: FrozenClock) -> None:
    write_some(engine, frozen_clock)
    with write_connection(engine) as conn, conn.begin():
        scrub_customer(conn, "cus-1", "erased-1", at=frozen_clock.now())
    # Point a scrubbed record's claim away: the scrub record no longer matches what it names.
    sql(engine, "UPDATE audit_log SET scrubbed_by = NULL, customer_id = 'cus-1' WHERE seq = 1")
    result = check(engine)
    assert result.broken_seq == 1


def test_a_customer_subject_must_be_the_customer(engine: Engine, frozen_clock: FrozenClock) -> None:
    with write_connection(engine) as conn, conn.begin(), pytest.raises(InvalidInput):
        record(
            conn,
            actor="user:ana",
            credential="session",
            action="customer.export",
            subject_type="customer",
            subject_id="cus-1",
            customer="cus-2",
            at=frozen_clock.now(),
        )


def test_concurrent_writers_keep_one_valid_chain(engine: Engine, frozen_clock: FrozenClock) -> None:
    def append(i: int) -> None:
        with write_connection(engine) as conn, conn.begin():
            record(
                conn,
                actor=f"user:u{i % 7}",
                credential="session",
                action="case.note",
                subject_type="case",
                subject_id=i,
                customer=f"cus-{i % 5}",
                at=frozen_clock.now(),
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(200)))
    result = check(engine)
    assert result.ok, result
    assert result.checked == 200


def test_an_edited_and_rehashed_record_breaks_the_next_link(
    engine: Engine, frozen_clock: FrozenClock
) -> None:
    write_some(engine, frozen_clock)
    with engine.begin() as conn:
        three = dict(conn.execute(sa.select(audit_log).where(audit_log.c.seq == 3)).one()._mapping)
        three["actor"] = "user:mallory"
        three["hash"] = record_hash(str(three["prev_hash"]), three)
        conn.execute(
            audit_log.update()
            .where(audit_log.c.seq == 3)
            .values(actor=three["actor"], hash=three["hash"])
        )
    result = check(engine)
    assert result.broken_seq == 4
    assert "record 3 was edited and re-hashed" in str(result.problem)
