"""Live updates for the console: one poller per process, many listeners.

Every change to a case appends to its timeline, so the highest timeline id is a change counter.
One task per process reads it twice a second (an index lookup) and wakes the browsers listening
on ``/console/stream`` (server-sent events), which then fetch the rows they show. The cost does
not grow with the number of open pages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from winback.store.tables import case_timeline

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


class ChangeFeed:
    """The latest timeline id, watched by one task while anyone listens."""

    def __init__(self, engine: Engine, poll_seconds: float = POLL_SECONDS) -> None:
        self.engine, self.poll_seconds = engine, poll_seconds
        self.version = 0
        self._changed = asyncio.Condition()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(case_timeline.c.id))).scalar() or 0)

    async def _poll(self) -> None:
        while self._listeners:
            try:
                version = await asyncio.to_thread(self._read)
            except Exception:  # the database is away: try again; the page keeps what it shows
                version = self.version
            if version != self.version:
                self.version = version
                async with self._changed:
                    self._changed.notify_all()
            await asyncio.sleep(self.poll_seconds)
        self._task = None

    async def _wait_past(self, seen: int) -> None:
        """Until the version is no longer ``seen``, or the keep-alive time has passed."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.version != seen), KEEPALIVE_SECONDS
                )

    async def listen(self) -> AsyncIterator[int | None]:
        """Yield the version at each change (``None`` as a keep-alive every 15 s)."""
        self._listeners += 1
        if self._task is None:
            # Start from what is there now: a listener hears of changes, not of the past.
            self.version = await asyncio.to_thread(self._read)
            self._task = asyncio.create_task(self._poll())
        try:
            seen = self.version
            while True:
                await self._wait_past(seen)
                if self.version != seen:
                    seen = self.version
                    yield seen
                else:
                    yield None
        finally:
            self._listeners -= 1
