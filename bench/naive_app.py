"""The naive baseline for ``bench/ingest.py``: one transaction (one fsync) per request.

A small FastAPI app that does what Winback's ``POST /v1/events`` does, minus group commit:
the same body parsing (orjson) and validation (:func:`winback.events.schema.parse_events`),
the same idempotent insert into the same migrated ``events`` table
(:func:`winback.store.eventlog.append_groups`, called with just this request's events), on the
same engine (:func:`winback.store.engine.make_engine`: SQLite WAL, ``synchronous=FULL``,
``BEGIN IMMEDIATE``). The body is parsed on the event loop, as in Winback; the write runs in
FastAPI's thread pool (what a plain ``def`` endpoint does), where every request opens, writes
and commits its own transaction: the textbook way to write this endpoint. No processor runs
beside it.

Run by the benchmark as ``python bench/naive_app.py --port N --database /abs/path.db``; it
serves on 127.0.0.1 with uvicorn, log level warning, no access log (like ``winback serve``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from winback.events.schema import EventValidationError, IncomingEvent, parse_events
from winback.store import migrate
from winback.store.engine import make_engine
from winback.store.eventlog import append_groups


def create_app(database_url: str) -> FastAPI:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    app = FastAPI(title="naive ingest baseline")

    def _json(content: Any, status: int) -> Response:
        return Response(orjson.dumps(content), status_code=status, media_type="application/json")

    def _store(incoming: list[IncomingEvent]) -> Any:
        # One request, one transaction, one commit.
        return append_groups(engine, [incoming], datetime.now(UTC))[0]

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/events", status_code=202)
    async def post_events(request: Request) -> Response:
        body = await request.body()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _json({"error": "bad_request", "message": str(exc)}, 400)
        try:
            incoming = parse_events(data)
        except EventValidationError as exc:
            return _json({"error": "validation_failed", "errors": exc.errors}, 422)
        outcome = await run_in_threadpool(_store, incoming)
        if outcome.conflicts:
            return _json({"error": "conflict"}, 409)
        accepted = outcome.statuses.count("accepted")
        return _json(
            {
                "accepted": accepted,
                "duplicates": len(outcome.statuses) - accepted,
                "events": [
                    {"id": e.event_id, "status": s}
                    for e, s in zip(incoming, outcome.statuses, strict=True)
                ],
            },
            202,
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="absolute path of the SQLite file")
    args = parser.parse_args()
    app = create_app(f"sqlite:///{args.database}")
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
