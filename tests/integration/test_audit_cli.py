"""``winback audit verify`` and ``winback audit list`` on a real database (SQLite and
PostgreSQL): the database is tampered with directly in SQL, and verify exits non-zero naming the
sequence number of the first broken record."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from winback.cli import app
from winback.clock import FrozenClock
from winback.store.audit import record
from winback.store.engine import write_connection


@pytest.fixture
def audited(engine: Engine, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Five records: three case assignments (customer cus-1) and two roster changes."""
    monkeypatch.setenv("WINBACK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with write_connection(engine) as conn, conn.begin():
        for i in range(1, 6):
            frozen_clock.advance(timedelta(minutes=1))
            if i % 2:
                record(
                    conn,
                    actor="user:ana",
                    credential="session",
                    action="case.assign",
                    subject_type="case",
                    subject_id=i,
                    before={"owner": None},
                    after={"owner": "bo"},
                    customer="cus-1",
                    at=frozen_clock.now(),
                )
            else:
                record(
                    conn,
                    actor="cli:root",
                    credential="cli",
                    action="roster.update",
                    subject_type="agent",
                    subject_id="bo",
                    before={"capacity": i},
                    after={"capacity": i + 1},
                    at=frozen_clock.now(),
                )
    return engine


def winback(*args: str) -> Result:
    return CliRunner().invoke(app, ["audit", *args])


def sql(engine: Engine, statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements.split(";"):
            conn.execute(sa.text(statement))


def test_verify_says_intact_and_prints_the_head(audited: Engine) -> None:
    result = winback("verify")
    assert result.exit_code == 0, result.output
    assert "intact: 5 record(s)" in result.output
    head = result.output.split("head: ")[1].strip()
    assert head.startswith("5:")
    again = winback("verify", "--anchor", head, "--since-anchor")
    assert again.exit_code == 0, again.output
    assert "0 record(s) verified" in again.output
    bad = winback("verify", "--anchor", "5:nothex")
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    ("tampering", "seq", "words"),
    [
        ("UPDATE audit_log SET after = '{\"owner\":\"mallory\"}' WHERE seq = 3", 3, "edited"),
        ("DELETE FROM audit_log WHERE seq = 2", 3, "2 deleted"),
        ("UPDATE audit_log SET seq = 9 WHERE seq = 2", 3, "2 deleted"),
        ("UPDATE audit_log SET seq = 99 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 4;"
         " UPDATE audit_log SET seq = 4 WHERE seq = 99", 2, "reordered"),
        ("INSERT INTO audit_log (seq, at, actor, credential, action, subject_type, prev_hash, hash)"
         " SELECT 6, at, 'user:mallory', 'session', 'remedy.approve', 'remedy_grant', hash, hash"
         " FROM audit_log WHERE seq = 5", 6, "edited"),
    ],
    ids=["edited", "deleted", "moved", "reordered", "inserted"],
)  # fmt: skip
def test_verify_names_the_first_broken_record(
    audited: Engine, tampering: str, seq: int, words: str
) -> None:
    sql(audited, tampering)
    result = winback("verify")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert f"broken at record {seq}:" in output
    assert words in output


def test_an_anchor_catches_records_cut_off_the_end(audited: Engine) -> None:
    head = winback("verify").output.split("head: ")[1].strip()
    sql(audited, "DELETE FROM audit_log WHERE seq >= 4")
    assert winback("verify").exit_code == 0
    result = winback("verify", "--anchor", head)
    assert result.exit_code == 1
    assert "broken at record 5" in result.output


def test_list_filters_and_prints_json(audited: Engine) -> None:
    result = winback("list", "--action", "roster.update")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == "4"
    assert 'agent:bo  {"capacity":4} -> {"capacity":5}' in lines[0]
    out = winback("list", "--customer", "cus-1", "--oldest-first", "--json", "--limit", "2")
    docs = [orjson.loads(line) for line in out.output.splitlines()]
    assert [d["seq"] for d in docs] == [1, 3]
    assert docs[0]["credential"] == "session"
    window = winback("list", "--since", "2026-11-24T09:32Z", "--until", "2026-11-24T09:34Z")
    assert [line.split()[0] for line in window.output.splitlines()] == ["3", "2"]
    naive = winback("list", "--since", "2026-11-24T09:32")
    assert naive.exit_code == 2


def test_a_checkpoint_file_verifies_incrementally_and_catches_a_cut(
    audited: Engine, tmp_path: Path, frozen_clock: FrozenClock
) -> None:
    head = tmp_path / "audit.head"
    first = winback("verify", "--checkpoint", str(head))
    assert first.exit_code == 0, first.output
    assert "5 record(s) verified" in first.output
    assert head.read_text().startswith("5:")
    with write_connection(audited) as conn, conn.begin():
        record(
            conn,
            actor="user:ana",
            credential="session",
            action="config.reload",
            subject_type="config",
            subject_id="sla.yaml",
            at=frozen_clock.now(),
        )
    second = winback("verify", "--checkpoint", str(head))
    assert "1 record(s) verified" in second.output, second.output
    assert head.read_text().startswith("6:")
    sql(audited, "DELETE FROM audit_log WHERE seq = 6")
    cut = winback("verify", "--checkpoint", str(head))
    assert cut.exit_code == 1
    assert "broken at record 6" in cut.output
    assert head.read_text().startswith("6:")  # a failed check keeps the last good head
