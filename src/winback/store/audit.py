"""The audit trail: one append-only, hash-chained record per mutation.

:func:`record` is the one writer. It is called inside the caller's transaction, so a record
exists exactly when the change it describes was committed. Each record carries a gapless
sequence number, the time (the caller's injected clock), who acted (``actor``, e.g.
``user:ana``), which credential proved it (``credential``: ``session``, ``key:12``, ``cli``,
``system``; never a secret), the ``action`` (``case.assign``, ``remedy.apply``,
``config.reload`` …), the subject (type and id), the fields the change touched (``before`` /
``after``, only those that differ) and ``details``.

**The chain.** ``hash = SHA-256(prev_hash ‖ "\\n" ‖ canonical(core))`` where the core is the
record's sequence number, time, actor, credential, action, subject, before, after, details and
the *digest of its personal part* (below), and ``prev_hash`` is the previous record's hash
(``"0" * 64`` for the first). The JSON parts are stored as the canonical text that was hashed
(sorted keys, no spaces), not as JSONB, so verification never depends on how a database
re-writes JSON (JSONB re-orders keys and re-writes numbers). An edited record no longer
matches its hash; a deleted one leaves a gap in the sequence; a reordered or inserted one
breaks the link of the record after it. :func:`verify` walks the chain and names the first
broken record.

**Appends are serialised.** Reading the last record and writing the next must not interleave
between two transactions, or the chain forks. On PostgreSQL every append first takes a
transaction-scoped advisory lock (the pattern of :func:`winback.store.remedy_store.lock_budget`),
held to the commit: sequence order is commit order. SQLite's writer lock already serialises
writers (:func:`winback.store.engine.write_connection`). Whatever happens, the sequence number
is the primary key, so two writers can never both append record *n*: the second fails.

**Personal data can be erased without breaking the chain.** A record about a customer keeps
the customer's identifiers (the customer id, a customer subject's id, free text such as a
remedy's reason) in a separate *personal part*: a JSON document with a random nonce, stored
beside the record and covered by the chain only through its SHA-256 digest. The nonce makes the
digest useless for guessing (a customer id or e-mail address has little entropy).
:func:`scrub_customer` deletes a customer's personal parts, keeps their digests (so every hash
still verifies), replaces the customer id by a pseudonym, and appends an ``audit.scrub`` record
whose details carry a digest of the scrubbed records' sequence numbers; each scrubbed record
points at it (``scrubbed_by``). :func:`verify` accepts a missing personal part only where an
``audit.scrub`` record after it claims it, so deleting personal data by hand is caught too.

**What the chain cannot prove alone.** Someone with write access to the database who knows the
algorithm can rewrite the whole chain from some point on, or cut records off its end.
``winback audit verify`` prints the head (sequence number and hash); kept outside the database
(a log shipped elsewhere, a ticket), it is an *anchor*: ``verify --anchor SEQ:HASH`` then
proves that nothing up to it was changed or removed, and ``--since-anchor`` checks only what
came after it (incremental verification).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from winback.errors import InvalidInput
from winback.identity import SYSTEM
from winback.store.tables import audit_log

GENESIS = "0" * 64
SCRUB_ACTION = "audit.scrub"
# pg_advisory_xact_lock key of the audit chain ("WBAU").
_AUDIT_LOCK = 0x57_42_41_55


# -- encoding and hashing -----------------------------------------------------------------------
def canonical(value: Any) -> str:
    """The canonical JSON text of ``value``: sorted keys, no spaces, UTF-8, datetimes RFC 3339."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z).decode()


def _json_text(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else canonical(dict(value))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _at_text(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime passed to the audit trail")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """The hash of one record (a mapping of its stored columns) chained to ``prev_hash``."""
    personal_subject = row["subject_type"] == "customer" and row["personal_digest"] is not None
    core = [
        row["seq"],
        _at_text(row["at"]),
        row["actor"],
        row["credential"],
        row["action"],
        row["subject_type"],
        None if personal_subject else row["subject_id"],
        row["before"],
        row["after"],
        row["details"],
        row["personal_digest"],
    ]
    return _sha256(prev_hash + "\n" + canonical(core))


def _changed(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Only the fields that differ, when both sides are given."""
    if before is None or after is None:
        return (None if before is None else dict(before)), (None if after is None else dict(after))
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


# -- writing ------------------------------------------------------------------------------------
# Built once: an append is on the path of every audited action, and building a statement costs
# more than running it on SQLite.
_LOCK = sa.text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK})")
_HEAD = sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
_INSERT = audit_log.insert()


def lock_chain(conn: Connection) -> None:
    """Serialise appends for the rest of the transaction (PostgreSQL; SQLite has one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK)


def _head(conn: Connection) -> tuple[int, str]:
    last = conn.execute(_HEAD).first()
    return (0, GENESIS) if last is None else (int(last.seq), str(last.hash))


def record(
    conn: Connection,
    *,
    actor: str,
    credential: str,
    action: str,
    subject_type: str,
    subject_id: str | int | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime,
    customer: str | None = None,
    personal: Mapping[str, Any] | None = None,
) -> int:
    """Append one audit record inside the caller's transaction; returns its sequence number.

    ``before``/``after``: the fields the change touched (when both are given, only the fields
    that differ are kept). ``customer``: the customer the record concerns (defaults to the
    subject's id when the subject is a customer); ``personal``: anything else that identifies
    a person (free text). Both go to the record's personal part, which an erasure can remove
    (:func:`scrub_customer`); ``details`` must hold no personal data.

    On SQLite, call it in a :func:`~winback.store.engine.write_connection` transaction (as
    every writer does): a deferred ``BEGIN`` would let two writers read the same head, and the
    second would fail on the sequence number instead of waiting. Take the chain's lock last in
    a transaction (append after locking case rows or the budget), so that it is held briefly
    and never waited for while holding a lock another appender needs.
    """
    subject = None if subject_id is None else str(subject_id)
    if subject_type == "customer":
        if customer is not None and customer != subject:
            raise InvalidInput("customer: a customer subject's record concerns that customer")
        customer = subject
    part: dict[str, Any] | None = None
    if customer is not None or personal:
        part = {"nonce": secrets.token_hex(16), "customer": customer}
        if personal:
            part["data"] = dict(personal)
    before, after = _changed(before, after)
    return _append(
        conn,
        at=at,
        actor=actor,
        credential=credential,
        action=action,
        subject_type=subject_type,
        subject_id=subject,
        before=_json_text(before),
        after=_json_text(after),
        details=_json_text(details),
        customer_id=customer,
        personal=None if part is None else canonical(part),
    )


def _append(conn: Connection, **values: Any) -> int:
    lock_chain(conn)
    last_seq, prev_hash = _head(conn)
    row = {
        **values,
        "seq": last_seq + 1,
        "personal_digest": None if values["personal"] is None else _sha256(values["personal"]),
        "scrubbed_by": None,
        "prev_hash": prev_hash,
    }
    row["hash"] = record_hash(prev_hash, row)
    conn.execute(_INSERT, row)
    return last_seq + 1


def scrub_customer(
    conn: Connection,
    customer_id: str,
    pseudonym: str,
    *,
    at: datetime,
    actor: str = SYSTEM.actor,
    credential: str = SYSTEM.credential,
) -> int:
    """Remove a customer's personal data from the audit trail, irreversibly; the number of
    records scrubbed.

    Inside the caller's transaction (the erasure's). Each record about the customer loses its
    personal part (its digest stays, so the chain still verifies), its customer id becomes
    ``pseudonym`` (and so does its subject id where the customer was the subject), and it points
    at a new ``audit.scrub`` record, which names the pseudonym and a digest of the scrubbed
    sequence numbers — never the customer's id.
    """
    if not pseudonym or pseudonym == customer_id:
        raise InvalidInput("pseudonym: must be given and differ from the customer id")
    lock_chain(conn)
    seqs = [
        int(s)
        for s in conn.execute(
            sa.select(audit_log.c.seq)
            .where(audit_log.c.customer_id == customer_id, audit_log.c.personal.is_not(None))
            .order_by(audit_log.c.seq)
        ).scalars()
    ]
    scrub_seq = _append(
        conn,
        at=at,
        actor=actor,
        credential=credential,
        action=SCRUB_ACTION,
        subject_type="customer",
        subject_id=pseudonym,
        before=None,
        after=None,
        details=_json_text({"records": len(seqs), "seqs_digest": _seqs_digest(seqs)}),
        customer_id=None,
        personal=None,
    )
    if not seqs:
        return 0
    where = audit_log.c.seq.in_(seqs)
    conn.execute(
        audit_log.update()
        .where(where, audit_log.c.subject_type == "customer")
        .values(subject_id=pseudonym)
    )
    conn.execute(
        audit_log.update()
        .where(where)
        .values(personal=None, customer_id=pseudonym, scrubbed_by=scrub_seq)
    )
    return len(seqs)


def _seqs_digest(seqs: list[int]) -> str:
    return _sha256(",".join(str(s) for s in seqs))


# -- verifying ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found: the records it checked, the head, and the first break."""

    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def _rows(conn: Connection, after_seq: int) -> Iterator[Any]:
    query = (
        sa.select(audit_log)
        .where(audit_log.c.seq > after_seq)
        .order_by(audit_log.c.seq)
        .execution_options(yield_per=1000)
    )
    yield from conn.execute(query)


def verify(
    conn: Connection, *, anchor: tuple[int, str] | None = None, since_anchor: bool = False
) -> Verification:
    """Walk the chain and report the first broken record (or none).

    ``anchor``: a (sequence number, hash) recorded earlier outside the database; the record
    must still be there with that hash. ``since_anchor``: trust the chain up to the anchor and
    check only what follows (incremental verification).
    """
    seq, prev = 0, GENESIS
    checked = 0
    claims: dict[int, int] = {}  # scrub record seq -> first scrubbed record claiming it
    anchor_seen = anchor is None

    def broken(at_seq: int, problem: str) -> Verification:
        return Verification(checked, seq, prev, at_seq, problem)

    if anchor is not None and since_anchor:
        anchor_row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == anchor[0])).first()
        if anchor_row is None:
            return broken(anchor[0], f"record {anchor[0]} (the anchor) is missing: deleted")
        if not hmac.compare_digest(str(anchor_row.hash), anchor[1]):
            return broken(anchor[0], f"record {anchor[0]} no longer has the anchor's hash")
        seq, prev, anchor_seen = anchor[0], anchor[1], True

    for row in _rows(conn, seq):
        values = row._mapping
        current = int(values["seq"])
        if current != seq + 1:
            missing = f"{seq + 1}" if current == seq + 2 else f"{seq + 1} to {current - 1}"
            return broken(current, f"record {current} follows record {seq}: {missing} deleted")
        if not hmac.compare_digest(str(values["prev_hash"]), prev):
            return broken(
                current,
                f"record {current} does not link to record {seq}: records were deleted, "
                f"inserted or reordered there, or record {seq} was edited and re-hashed",
            )
        if not hmac.compare_digest(record_hash(prev, values), str(values["hash"])):
            return broken(current, f"record {current} does not match its hash: edited")
        problem = _personal_problem(values, claims)
        if problem is not None:
            return broken(current, f"record {current}: {problem}")
        if values["action"] == SCRUB_ACTION and values["personal_digest"] is None:
            problem = _scrub_problem(conn, values)
            if problem is not None:
                return broken(current, f"record {current}: {problem}")
            claims.pop(current, None)
        if anchor is not None and current == anchor[0]:
            if not hmac.compare_digest(str(values["hash"]), anchor[1]):
                return broken(current, f"record {current} no longer has the anchor's hash")
            anchor_seen = True
        seq, prev = current, str(values["hash"])
        checked += 1
    if claims:
        first = min(claims.values())
        return broken(first, f"record {first}: its personal part was removed without a scrub")
    if not anchor_seen and anchor is not None:
        return broken(anchor[0], f"record {anchor[0]} (the anchor) is missing: deleted")
    return Verification(checked, seq, prev)


def _personal_problem(values: Mapping[str, Any], claims: dict[int, int]) -> str | None:
    digest, personal = values["personal_digest"], values["personal"]
    if digest is None:
        if personal is not None or values["scrubbed_by"] is not None:
            return "personal data on a record that had none: edited"
        return None
    if personal is not None:
        if not hmac.compare_digest(_sha256(personal), str(digest)):
            return "its personal part does not match its digest: edited"
        try:
            customer = orjson.loads(personal).get("customer")
        except (orjson.JSONDecodeError, AttributeError):
            return "its personal part is not the JSON document it was: edited"
        if values["customer_id"] != customer or (
            values["subject_type"] == "customer" and values["subject_id"] != customer
        ):
            return "its customer id differs from its personal part: edited"
        return None
    scrub = values["scrubbed_by"]
    if scrub is None or int(scrub) <= int(values["seq"]):
        return "its personal part was removed without a scrub"
    claims.setdefault(int(scrub), int(values["seq"]))
    return None


def _scrub_problem(conn: Connection, values: Mapping[str, Any]) -> str | None:
    """The scrubbed records pointing at this scrub record must be exactly those it names."""
    scrubbed = conn.execute(
        sa.select(audit_log.c.seq, audit_log.c.customer_id, audit_log.c.subject_type,
                  audit_log.c.subject_id)
        .where(audit_log.c.scrubbed_by == values["seq"])
        .order_by(audit_log.c.seq)
    ).all()  # fmt: skip
    details = orjson.loads(values["details"] or "{}")
    if details.get("seqs_digest") != _seqs_digest([int(r.seq) for r in scrubbed]):
        return "the records it scrubbed are not those it names: a scrub was forged or undone"
    pseudonym = values["subject_id"]
    for r in scrubbed:
        if r.customer_id != pseudonym or (
            r.subject_type == "customer" and r.subject_id != pseudonym
        ):
            return f"record {r.seq}, which it scrubbed, names another customer: edited"
    return None


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    customer: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_records(
    conn: Connection,
    where: AuditFilter,
    *,
    limit: int = 50,
    after_seq: int | None = None,
    descending: bool = True,
) -> list[dict[str, Any]]:
    """Records matching ``where``, newest first (or oldest first), after the cursor ``after_seq``
    (a sequence number: the last one of the previous page)."""
    c = audit_log.c
    query = sa.select(audit_log)
    conditions = [
        (c.actor, where.actor),
        (c.action, where.action),
        (c.subject_type, where.subject_type),
        (c.subject_id, where.subject_id),
        (c.customer_id, where.customer),
    ]
    for column, value in conditions:
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(c.at >= where.since)
    if where.until is not None:
        query = query.where(c.at < where.until)
    if after_seq is not None:
        query = query.where(c.seq < after_seq if descending else c.seq > after_seq)
    query = query.order_by(c.seq.desc() if descending else c.seq).limit(limit)
    return [record_doc(dict(row._mapping)) for row in conn.execute(query)]


def record_doc(values: Mapping[str, Any]) -> dict[str, Any]:
    """One record as a document (the personal part's customer id, not its nonce)."""

    def parse(text: str | None) -> Any:
        return None if text is None else orjson.loads(text)

    personal = parse(values["personal"])
    return {
        "seq": values["seq"],
        "at": values["at"],
        "actor": values["actor"],
        "credential": values["credential"],
        "action": values["action"],
        "subject_type": values["subject_type"],
        "subject_id": values["subject_id"],
        "customer_id": values["customer_id"],
        "before": parse(values["before"]),
        "after": parse(values["after"]),
        "details": parse(values["details"]),
        "personal": None if personal is None else personal.get("data"),
        "scrubbed": values["scrubbed_by"] is not None,
        "prev_hash": values["prev_hash"],
        "hash": values["hash"],
    }
