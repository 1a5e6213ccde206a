"""Which worker processes which partition: every member computes the same answer."""

from __future__ import annotations

from collections import Counter

import pytest

from winback.pipeline.assignment import assign, share
from winback.store.eventlog import partition_of


@pytest.mark.parametrize("members", [1, 2, 3, 4, 5, 7, 16, 20])
def test_every_partition_has_one_member_and_shares_differ_by_one_at_most(members: int) -> None:
    people = [f"host-{i}:pid" for i in range(members)]
    assignment = assign(range(16), people)
    assert sorted(assignment) == list(range(16))
    loads = Counter(assignment.values())
    busiest, idlest = max(loads.values()), min(loads[m] for m in people)
    assert busiest - idlest <= 1


def test_members_agree_whatever_order_they_list_each_other_in() -> None:
    people = ["w-a", "w-b", "w-c", "w-d"]
    assert assign(range(32), people) == assign(range(32), list(reversed(people)))
    shares = [share(range(32), people[::-1], m) for m in people]
    assert set().union(*shares) == set(range(32))
    assert sum(len(s) for s in shares) == 32  # disjoint


def test_a_death_or_a_join_moves_few_partitions() -> None:
    people = [f"w{i}" for i in range(4)]
    before = assign(range(32), people)
    after_death = assign(range(32), people[:-1])
    # Everything the dead member held moves; of the survivors' partitions, only a few
    # (the quota grows from 8 to 10 or 11: none of theirs needs to move at all).
    kept = [p for p, m in before.items() if m != "w3"]
    assert sum(before[p] != after_death[p] for p in kept) <= 4
    after_join = assign(range(32), [*people, "w4"])
    # The newcomer takes its share (6 or 7); only a few more move between the others.
    assert sum(before[p] != after_join[p] for p in before) <= 7 + 4


def test_no_member_no_assignment() -> None:
    assert assign(range(4), []) == {}


def test_a_customers_partition_is_pinned() -> None:
    # Stored with every event: changing the hash would strand customers' events in other
    # partitions on every existing installation. These values must never change.
    assert [partition_of(c, 16) for c in ("cus-1", "cus-2", "acme-42", "ü-kunde")] == [2, 8, 2, 13]
    assert partition_of("anyone", 1) == 0
    assert all(0 <= partition_of(f"c{i}", 7) < 7 for i in range(200))
