"""A remedy's monthly budget holds across processes on PostgreSQL.

Two processes grant 300 EUR credits on 100 different cases at once, several threads each,
against a budget of 20,000: the budget allows 66 grants and exactly 66 are granted. Without
the budget lock both processes (and their threads) read the same free budget and overspend
it. SQLite serialises every writer already; the test runs there too.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.bootstrap import build_stages
from winback.clock import SystemClock
from winback.config import load_settings
from winback.errors import RemedyRefused
from winback.identity import Principal
from winback.pipeline.processor import Processor
from winback.remedies.config import load_catalogue
from winback.services.remedies import perform_remedy_action
from winback.store.engine import make_engine
from winback.store.tables import cases, remedy_grants

from .support import body, log_events

LU = Principal(kind="user", name="lu", role="manager", credential="test")

pytestmark = pytest.mark.slow

REMEDIES = """
roles:
  agent: {max_tier: 1, max_amount: 50}
  manager: {max_tier: 3, max_amount: 2000}
remedies:
  goodwill:
    kind: credit
    label: Goodwill credit
    tier: 1
    default_amount: 300
    max_amount: 500
    monthly_budget: 20000
"""


def grant_all(url: str, config_dir: str, case_ids: list[int], tag: str) -> tuple[int, int]:
    """Grant a 300 credit on each case from 8 threads; (granted, refused)."""
    engine = make_engine(url)
    catalogue = load_catalogue(Path(config_dir))
    clock = SystemClock()

    def one(case_id: int) -> bool:
        params = {"remedy": "goodwill", "amount": 300}
        try:
            perform_remedy_action(
                engine,
                clock,
                catalogue,
                case_id,
                "apply_remedy",
                LU,
                params,
                f"{tag}{case_id}",
            )
        except RemedyRefused:
            return False
        return True

    try:
        with ThreadPoolExecutor(8) as pool:
            done = list(pool.map(one, case_ids))
    finally:
        engine.dispose()
    return sum(done), len(done) - sum(done)


def test_two_processes_never_overspend_a_monthly_budget(engine: Engine, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "remedies.yaml").write_text(REMEDIES)
    now = datetime.now(UTC)
    log_events(engine, now, *(body(f"e{i}", "complaint", f"c{i}") for i in range(100)))
    settings = load_settings(config_dir=config_dir, models_dir=tmp_path / "models")
    Processor(engine, build_stages(settings), SystemClock()).run_until_idle()
    with engine.connect() as conn:
        ids = sorted(conn.execute(sa.select(cases.c.id)).scalars())
    assert len(ids) == 100
    url = engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(2) as pool:
        results = pool.starmap(
            grant_all,
            [(url, str(config_dir), ids[0::2], "a"), (url, str(config_dir), ids[1::2], "b")],
        )
    granted = sum(g for g, _ in results)
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(remedy_grants.c.amount), 0)).where(
                remedy_grants.c.status == "applied"
            )
        ).scalar_one()
    assert total <= 20_000
    assert granted == 66 == total / 300
