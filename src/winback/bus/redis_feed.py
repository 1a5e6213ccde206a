"""A wake-up feed over a Redis Stream: ingest says "the log moved"; idle workers wake at once.

Without it, an idle worker finds new events by polling the log's head every
``WINBACK_PROCESSOR_IDLE_POLL_SECONDS``. With ``WINBACK_REDIS_URL`` set, every process that
ingests appends a tiny entry to the stream ``winback:log`` after each commit
(:class:`FeedPublisher`, from a thread of its own, coalescing commits, so a slow or absent Redis
never delays an acknowledgement), and each worker waits for its next round by blocking on that
stream (:class:`FeedWaiter`, ``XREAD BLOCK``) instead of sleeping — so the poll can be long
(say 1 s) and a new event is still picked up at once.

The feed carries **no events and no positions**: the log and the cursors are in the database,
which stays the only system of record. An entry lost, a Redis restarted empty or Redis gone
altogether costs latency (workers fall back to polling at the idle interval), never an event.
So nothing here needs a consumer group or acknowledgements; the stream is trimmed
(``MAXLEN ~ 1000``) and each waiter only remembers the last entry it saw.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

STREAM = "winback:log"
MAXLEN = 1000
_TIMEOUTS = {"socket_timeout": 2.0, "socket_connect_timeout": 1.0}


def _client(url: str) -> Any:
    return redis.Redis.from_url(url, **_TIMEOUTS)


class FeedPublisher:
    """Tells the workers the log moved; call :meth:`notify` after each commit."""

    def __init__(self, url: str, stream: str = STREAM) -> None:
        self._client = _client(url)
        self._stream = stream
        self._pending = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.published = 0
        self.failures = 0

    def notify(self, _events: int = 0) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="winback-feed", daemon=True
                    )
                    self._thread.start()
        self._pending.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            if not self._pending.wait(0.5):
                continue
            self._pending.clear()  # commits meanwhile are covered by this one entry
            try:
                self._client.xadd(self._stream, {"t": time.time()}, maxlen=MAXLEN)
                self.published += 1
            except RedisError as exc:
                self.failures += 1
                if self.failures == 1 or self.failures % 1000 == 0:
                    log.warning("wake-up feed: Redis unavailable, workers poll (%s)", exc)
                self._stopped.wait(0.5)  # do not spin on a dead Redis

    def stop(self) -> None:
        self._stopped.set()
        self._pending.set()
        if self._thread is not None:
            self._thread.join(5)
        self._client.close()


class FeedWaiter:
    """A worker's wait: returns when the log moved (an entry after the last one seen) or after
    ``timeout`` seconds; on any Redis error it simply sleeps ``timeout`` (polling)."""

    def __init__(self, url: str, stream: str = STREAM) -> None:
        self._client = _client(url)
        self._stream = stream
        self._last: str | None = None
        self.wakeups = 0
        self.failures = 0

    def __call__(self, timeout: float) -> None:
        started = time.monotonic()
        try:
            if self._last is None:
                newest = self._client.xrevrange(self._stream, count=1)
                self._last = newest[0][0].decode() if newest else "0-0"
            block = max(1, int(timeout * 1000))
            got = self._client.xread({self._stream: self._last}, count=MAXLEN, block=block)
        except RedisError as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 1000 == 0:
                log.warning("wake-up feed: Redis unavailable, polling (%s)", exc)
            self._last = None  # a restarted Redis starts its ids afresh
            time.sleep(max(0.0, timeout - (time.monotonic() - started)))
            return
        if got:
            self._last = got[0][1][-1][0].decode()
            self.wakeups += 1

    def close(self) -> None:
        self._client.close()
