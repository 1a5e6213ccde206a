"""The ``winback`` command line, run as the installed console script in subprocesses."""

from __future__ import annotations

import csv
import json
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

from winback.store import migrate

from ._support import (
    HOST,
    Server,
    deadline_wait,
    free_port,
    log_tail,
    query,
    run_cli,
    scalar,
    start_worker,
    winback_env,
)

pytestmark = pytest.mark.slow

TABLES = {
    "events",
    "customers",
    "cases",
    "case_events",
    "case_timeline",
    "outbox",
    "processor_cursors",
    "event_failures",
}


def write_jsonl(path: Path, records: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def sample_events(prefix: str = "imp", customers: int = 4) -> list[dict[str, Any]]:
    """Per customer: a usage event, a detractor survey and a complaint (two signals)."""
    records: list[dict[str, Any]] = []
    for c in range(customers):
        who = {"id": f"cust-{c}", "email": f"c{c}@example.com"}
        records += [
            {
                "id": f"{prefix}-{c}-usage",
                "type": "usage",
                "occurred_at": "2026-03-01T08:00:00Z",
                "customer": who,
            },
            {
                "id": f"{prefix}-{c}-nps",
                "type": "survey.response",
                "occurred_at": "2026-03-01T09:00:00Z",
                "customer": who,
                "score": {"kind": "nps", "value": 3},
                "text": "Too slow.",
            },
            {
                "id": f"{prefix}-{c}-complaint",
                "type": "complaint",
                "occurred_at": "2026-03-01T10:00:00Z",
                "customer": {"id": f"cust-{c}"},
                "channel": "phone",
                "text": "Nobody called back.",
            },
        ]
    return records


def test_db_upgrade_on_a_fresh_file(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    env = winback_env(database)
    result = run_cli(["db", "upgrade"], env, tmp_path)
    assert result.returncode == 0, result
    assert "database at revision" in result.stderr, result
    # One line per migration as it is applied (the progress), and no Alembic log lines.
    lines = result.stderr.splitlines()
    script = ScriptDirectory.from_config(migrate.alembic_config())
    history = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert lines[0] == f"applying {len(history)} migration(s): {', '.join(history)}", result
    applied = [line for line in lines if line.startswith("  [")]
    assert [line.split()[1] for line in applied] == history, result
    assert applied[0].startswith(f"  [1/{len(history)}] {history[0]} Initial schema"), result
    assert "alembic" not in result.stderr.lower(), result
    names = {r["name"] for r in query(database, "SELECT name FROM sqlite_master")}
    assert names >= TABLES | {"alembic_version"}
    revision = scalar(database, "SELECT version_num FROM alembic_version")
    assert revision
    assert revision in result.stderr

    again = run_cli(["db", "upgrade"], env, tmp_path)  # already current: a no-op
    assert again.returncode == 0, again
    assert "applying" not in again.stderr, again
    assert scalar(database, "SELECT version_num FROM alembic_version") == revision


def test_db_upgrade_to_an_unknown_revision_is_one_error_line(tmp_path: Path) -> None:
    result = run_cli(["db", "upgrade", "nosuchrev"], winback_env(tmp_path / "w.db"), tmp_path)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert result.stderr.startswith("error: "), result
    assert "nosuchrev" in result.stderr, result


def test_import_jsonl_then_again_imports_nothing_twice(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    env = winback_env(database)
    records = sample_events()
    source = write_jsonl(tmp_path / "events.jsonl", records)

    result = run_cli(["import", str(source)], env, tmp_path)
    assert result.returncode == 0, result
    n = len(records)
    assert "importing" in result.stderr, result  # the progress bar, drawn on stderr
    # The automatic migration is silent (WINBACK_LOG_LEVEL is info here): no Alembic lines.
    assert "alembic" not in result.stderr.lower(), result
    assert result.stderr.lstrip().startswith("importing"), result
    assert f"{n}/{n}" in result.stderr, result
    assert result.stdout.strip().splitlines()[-1] == (
        f"imported {n} events, 0 already present, 0 rejected"
    )
    assert scalar(database, "SELECT count(*) FROM events") == n
    seqs = [r["event_id"] for r in query(database, "SELECT event_id FROM events ORDER BY seq")]
    assert seqs == [r["id"] for r in records]  # file order is log order

    second = run_cli(["import", str(source)], env, tmp_path)
    assert second.returncode == 0, second
    assert second.stdout.strip().splitlines()[-1] == (
        f"imported 0 events, {n} already present, 0 rejected"
    )
    assert scalar(database, "SELECT count(*) FROM events") == n


def test_import_reports_bad_lines_and_imports_the_rest(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    env = winback_env(database)
    good = sample_events("ok", customers=1)
    # An event already in the database, to be sent again with other content.
    first = run_cli(["import", str(write_jsonl(tmp_path / "a.jsonl", good[:1]))], env, tmp_path)
    assert first.returncode == 0, first

    changed = {**good[0], "attributes": {"sessions": 99}}
    lines: list[Any] = [
        good[1],  # 1
        "{this is not json",  # 2
        "",  # 3 (blank: skipped, still counted)
        {**good[2], "id": "bad-type", "type": "teleport"},  # 4
        {
            "id": "bad-score",
            "type": "survey.response",
            "customer": {"id": "x"},
            "score": {"kind": "nps", "value": 11},
        },  # 5
        good[2],  # 6
        changed,  # 7: same id as the imported one, different content
        {"id": "no-customer", "type": "complaint"},  # 8
        {**good[2], "id": "from-the-future", "occurred_at": "9999-01-01T00:00:00Z"},  # 9
    ]
    source = write_jsonl(tmp_path / "mixed.jsonl", lines)
    result = run_cli(["import", str(source)], env, tmp_path)
    assert result.returncode == 1, result
    assert result.stdout.strip().splitlines()[-1] == (
        "imported 2 events, 0 already present, 6 rejected"
    )
    reports = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    by_line = {int(r.split(":", 1)[0].removeprefix("line ")): r for r in reports}
    assert set(by_line) == {2, 4, 5, 7, 8, 9}, result
    assert "malformed JSON" in by_line[2]
    assert "type" in by_line[4]
    assert "teleport" in by_line[4]
    assert "score" in by_line[5]
    assert "between 0 and 10" in by_line[5]
    assert "different content" in by_line[7]
    assert "customer" in by_line[8]
    assert "occurred_at: 9999-01-01T00:00:00+00:00 is more than 300 s in the future" in by_line[9]

    stored = {r["event_id"] for r in query(database, "SELECT event_id FROM events")}
    assert stored == {g["id"] for g in good}
    payload = scalar(database, "SELECT payload FROM events WHERE event_id = ?", (good[0]["id"],))
    assert "99" not in payload  # the conflicting line changed nothing


def test_import_csv_with_dotted_columns(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    env = winback_env(database)
    columns = [
        "id",
        "type",
        "occurred_at",
        "customer.id",
        "customer.email",
        "customer.value",
        "channel",
        "text",
        "score.kind",
        "score.value",
        "amount",
        "currency",
    ]
    rows = [
        {
            "id": "s1",
            "type": "survey.response",
            "occurred_at": "2026-03-01T09:00:00Z",
            "customer.id": "acme",
            "customer.email": "ops@acme.example",
            "customer.value": "1200",
            "channel": "email",
            "text": "Support never got back to me.",
            "score.kind": "nps",
            "score.value": "4",
        },
        {
            "id": "p1",
            "type": "purchase",
            "occurred_at": "2026-03-01T10:00:00+01:00",
            "customer.id": "acme",
            "amount": "49.5",
            "currency": "EUR",
        },
        {
            "id": "c1",
            "type": "complaint",
            "customer.id": "globex",
            "channel": "chat",
            "text": "Charged twice, again.",
        },
        {
            "id": "s2",
            "type": "survey.response",
            "customer.id": "globex",
            "score.kind": "csat",
            "score.value": "five",
        },
    ]
    source = tmp_path / "events.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)

    result = run_cli(["import", str(source)], env, tmp_path)
    assert result.returncode == 1, result  # the last row is invalid
    assert result.stdout.strip().splitlines()[-1] == (
        "imported 3 events, 0 already present, 1 rejected"
    )
    assert "4/4" in result.stderr, result  # the header is not counted as a record
    bad = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert len(bad) == 1, result
    assert bad[0].startswith("line 5:"), bad  # the header is line 1
    assert "score.value" in bad[0]

    events = {
        r["event_id"]: json.loads(r["payload"])
        for r in query(database, "SELECT event_id, payload FROM events")
    }
    assert set(events) == {"s1", "p1", "c1"}
    assert events["s1"]["score"] == {"kind": "nps", "value": 4}
    assert events["s1"]["customer"] == {
        "id": "acme",
        "email": "ops@acme.example",
        "value": 1200.0,
    }
    assert events["s1"]["channel"] == "email"
    assert events["p1"]["amount"] == 49.5
    assert events["p1"]["currency"] == "EUR"
    assert events["p1"]["customer"] == {"id": "acme"}  # empty cells are left out
    assert "score" not in events["c1"]
    occurred = scalar(database, "SELECT occurred_at FROM events WHERE event_id = 'p1'")
    assert occurred.startswith("2026-03-01 09:00:00") or occurred.startswith("2026-03-01T09:00")


def test_worker_processes_an_imported_database_and_stops_on_sigterm(tmp_path: Path) -> None:
    database = tmp_path / "w.db"
    env = winback_env(database)
    records = sample_events(customers=5)
    imported = run_cli(["import", str(write_jsonl(tmp_path / "e.jsonl", records))], env, tmp_path)
    assert imported.returncode == 0, imported
    assert scalar(database, "SELECT count(*) FROM cases") == 0  # import does not process

    log_path = tmp_path / "worker.log"
    worker = start_worker(env, tmp_path, log_path)
    try:
        last_seq = scalar(database, "SELECT max(seq) FROM events")

        def caught_up() -> bool:
            assert worker.poll() is None, f"worker exited early:\n{log_tail(log_path)}"
            position = scalar(
                database, "SELECT position FROM processor_cursors WHERE name = 'pipeline'"
            )
            return position == last_seq

        deadline_wait(
            caught_up,
            timeout=90,
            interval=0.1,
            message=lambda: f"the worker did not catch up; output:\n{log_tail(log_path)}",
        )
        cases = query(database, "SELECT customer_id, signal_count, status FROM cases")
        assert sorted(r["customer_id"] for r in cases) == [f"cust-{c}" for c in range(5)]
        assert {r["signal_count"] for r in cases} == {2}
        assert {r["status"] for r in cases} == {"new"}
        assert scalar(database, "SELECT count(*) FROM case_timeline") == 10
        assert scalar(database, "SELECT count(*) FROM customers") == 5
        assert scalar(database, "SELECT count(*) FROM event_failures") == 0

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log_tail(log_path)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    assert "processing events" in log_tail(log_path)


@pytest.mark.parametrize(
    "url", ["mysql://x", "sqlite://relative-without-third-slash.db", "nonsense"]
)
def test_serve_refuses_a_bad_database_url(tmp_path: Path, url: str) -> None:
    env = winback_env(port=free_port())
    env["WINBACK_DATABASE_URL"] = url
    result = run_cli(["serve"], env, tmp_path, timeout=60)
    assert result.returncode == 2, result
    assert "WINBACK_DATABASE_URL" in result.stderr, result
    assert "Traceback" not in result.stderr, result
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_serve_refuses_a_bad_port(tmp_path: Path) -> None:
    env = winback_env(tmp_path / "w.db")
    env["WINBACK_PORT"] = "99999"
    result = run_cli(["serve"], env, tmp_path, timeout=60)
    assert result.returncode == 2, result
    assert "WINBACK_PORT" in result.stderr, result


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port that another program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _only_line(result: Any, port: int) -> None:
    """The command stopped with one line naming the flag and the variable, and nothing else."""
    assert result.returncode != 0, result
    assert result.stdout == "", result  # no banner
    assert result.stderr.splitlines() == [
        f"error: port {port} is in use: pass --port N or set WINBACK_PORT"
    ], result


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path, busy_port: int) -> None:
    result = run_cli(["serve"], winback_env(tmp_path / "w.db", port=busy_port), tmp_path)
    _only_line(result, busy_port)
    assert list(tmp_path.iterdir()) == []  # stopped before preparing the database

    flag = run_cli(["serve", "--port", str(busy_port)], winback_env(tmp_path / "w.db"), tmp_path)
    _only_line(flag, busy_port)


@pytest.mark.parametrize("how", ["--port", "WINBACK_PORT"])
def test_demo_on_a_port_in_use_says_so_before_its_banner(
    tmp_path: Path, busy_port: int, how: str
) -> None:
    database = tmp_path / "d.db"
    database.write_text("an earlier demo")
    args = ["demo", "--events", "5", "--database", str(database)]
    if how == "--port":
        result = run_cli([*args, "--port", str(busy_port)], winback_env(), tmp_path)
    else:  # the demo honours WINBACK_PORT like serve
        result = run_cli(args, winback_env(port=busy_port), tmp_path)
    _only_line(result, busy_port)
    assert database.read_text() == "an earlier demo"  # not recreated: the demo never started


def test_demo_runs_to_the_end_and_leaves_cases(tmp_path: Path) -> None:
    database = tmp_path / "d.db"
    database.write_text("stale file: the demo recreates the database")
    port = free_port()
    env = winback_env(tmp_path / "unused.db")
    del env["WINBACK_SECRET_KEY"]  # demo mode needs none: a random one for the run
    args = ["demo", "--events", "30", "--rate", "100", "--speed", "1000", "--port", str(port)]
    result = run_cli([*args, "--database", str(database)], env, tmp_path, timeout=180)
    assert result.returncode == 0, result
    assert f"http://127.0.0.1:{port}/v1/cases" in result.stdout
    # Its people, with passwords made for this run, and its stream's own key.
    assert f"Log in at http://127.0.0.1:{port}/console" in result.stdout
    roles = dict(query(database, "SELECT name, role FROM users"))
    assert roles == {
        "admin": "admin",
        "lea": "lead",
        "max": "manager",
        "ana": "agent",  # the roster's agents (agents.yaml of the demo's configuration)
        "ben": "agent",
        "chloe": "agent",
        "dev": "agent",
        "al": "analyst",
    }
    assert scalar(database, "SELECT scopes FROM api_keys WHERE name = 'demo-stream'") is not None
    assert scalar(database, "SELECT last_used_at FROM api_keys") is not None
    assert "demo: 25 events sent" in result.stdout, result
    assert "refused" not in result.stdout, result

    assert scalar(database, "SELECT count(*) FROM events") == 30
    # The demo lets the processor catch up before it stops: every event was processed.
    assert scalar(database, "SELECT position FROM processor_cursors") == 30
    assert scalar(database, "SELECT count(*) FROM cases") > 0
    open_per_customer = query(
        database,
        "SELECT customer_id, count(*) AS n FROM cases WHERE status = 'new' "
        "GROUP BY customer_id HAVING n > 1",
    )
    assert open_per_customer == []
    assert not (tmp_path / "unused.db").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_shuts_down_cleanly_on_a_signal(
    start_server: Callable[..., Server], sig: signal.Signals
) -> None:
    server = start_server()
    assert server.proc is not None
    server.proc.send_signal(sig)
    assert server.proc.wait(timeout=30) == 0, server.output()
    assert "Traceback" not in server.output()
