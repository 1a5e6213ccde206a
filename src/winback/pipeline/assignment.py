"""Which worker processes which partition: a pure function of the partitions and the members.

Every worker computes :func:`assign` from the same list of live members, so all of them agree
on the assignment without talking to each other (what they hold meanwhile is settled by the
leases; what they commit, by the cursor's compare-and-set). The assignment is a *balanced
rendezvous*: each partition goes to the highest-ranked member (by a stable hash of partition
and member) that has not yet reached its quota (partitions / members, rounded down; the remainder
one more each, first come). So it is

- deterministic (no randomness, no process-salted ``hash()``);
- balanced: members' shares differ by one at most;
- mostly stable: when a member joins or dies, the partitions that move are about those the
  new member takes or the dead one held, not a reshuffle of everything.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence


def _rank(partition: int, member: str) -> int:
    return zlib.crc32(f"{partition}/{member}".encode())


def assign(partitions: Iterable[int], members: Sequence[str]) -> dict[int, str]:
    """Each partition's member (empty when there is no member)."""
    ordered = sorted(set(partitions))
    people = sorted(set(members))
    if not people:
        return {}
    # Every member gets `floor` partitions; `extra` of them one more.
    floor, extra = divmod(len(ordered), len(people))
    load = dict.fromkeys(people, 0)
    out: dict[int, str] = {}
    for partition in ordered:
        ranked = sorted(people, key=lambda m: (-_rank(partition, m), m))
        chosen = next(m for m in ranked if load[m] < floor or (load[m] == floor and extra > 0))
        if load[chosen] == floor:
            extra -= 1
        load[chosen] += 1
        out[partition] = chosen
    return out


def share(partitions: Iterable[int], members: Sequence[str], member: str) -> set[int]:
    """The partitions ``member`` should hold."""
    return {p for p, m in assign(partitions, members).items() if m == member}
