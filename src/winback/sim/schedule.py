"""What the simulation has scheduled, and in which order it happens: the calendar queue.

Every happening is an item ``(time, class, sequence, kind, customer, detail)``: ``time`` in
hours since the start, ``class`` WORLD (the customers' own behaviour) or RESPONSE (what the
company's team does), ``sequence`` a counter of its own per class, ``kind`` one of the
constants below, ``customer`` the customer's index (-1 for company-wide happenings) and
``detail`` whatever the handler needs.

Invariants:

- Happenings run in the order of (time, class, sequence). Each class numbers its own
  happenings, so the order of world happenings never depends on the response policy: two runs
  under different policies see the same world until a response changes something.
- A happening at or beyond the horizon is never scheduled (it would never happen).
- The queue is a calendar: one bucket (a plain list) per simulated hour, and a heap for the
  current hour only. A happening due in the current hour goes onto the heap; a later one is
  appended to its hour's bucket, which becomes the heap when the run reaches that hour.
"""

from __future__ import annotations

import heapq
from typing import Any

Item = tuple[float, int, int, int, int, Any]  # time, class, sequence, kind, customer, detail

# The world: the customers' own behaviour and company-wide happenings.
DAY, OUTAGE, ACTIVITY, RENEW, FAILURE, NPS, CONTACT, CHASE, NEGLECT = range(9)
TSURVEY, REVIEW, DECIDE, CANCEL, EXPIRE = range(9, 14)
# The response: what the company's team does, and what follows from it.
ACK, RESOLVE, POST_SURVEY = range(20, 23)
WORLD, RESPONSE = 0, 1


class Calendar:
    """The queue of scheduled happenings up to ``horizon`` hours."""

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon
        self.hours = int(horizon)
        self.buckets: list[list[Item]] = [[] for _ in range(self.hours + 1)]
        self.hour = 0
        self.heap: list[Item] = self.buckets[0]
        self.seq = [0, 0]

    def push(self, t: float, kind: int, idx: int = -1, ref: Any = None, cls: int = WORLD) -> None:
        if t >= self.horizon:
            return  # beyond the end of the run: never happens
        seq = self.seq[cls]
        self.seq[cls] = seq + 1
        hour = int(t)
        if hour == self.hour:
            heapq.heappush(self.heap, (t, cls, seq, kind, idx, ref))
        else:
            self.buckets[hour].append((t, cls, seq, kind, idx, ref))

    def next_hour(self, until: float) -> list[Item] | None:
        """Move on to the next hour and return its heap, or None if that hour is after
        ``until`` or the run is at its last hour."""
        if self.hour + 1 > until or self.hour >= self.hours:
            return None
        self.buckets[self.hour] = []
        self.hour += 1
        heap = self.heap = self.buckets[self.hour]
        heapq.heapify(heap)
        return heap
