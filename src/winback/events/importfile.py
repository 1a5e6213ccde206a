"""Reading events from files for ``winback import``: JSONL, or CSV with dotted column names.

CSV columns name fields by path: ``id,type,occurred_at,customer.id,customer.email,text,
score.kind,score.value,amount,currency``; empty cells are left out; ``score.value``, ``amount``
and ``customer.value`` are converted to numbers; columns ``attributes`` and
``customer.attributes`` may hold JSON objects.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from winback.events.schema import EventValidationError, FutureLimit, IncomingEvent, parse_event

_INTEGER = {"score.value"}
_NUMBER = {"amount", "customer.value"}
_JSON = {"attributes", "customer.attributes"}


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


def _convert(column: str, cell: str) -> Any:
    if column in _INTEGER:
        try:
            return int(cell)
        except ValueError:
            return cell  # let validation name the field
    if column in _NUMBER:
        try:
            return float(cell)
        except ValueError:
            return cell
    if column in _JSON:
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            return cell
    return cell


def csv_row_to_event(row: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell is None or cell.strip() == "":
            continue
        target = event
        *parents, leaf = column.strip().split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = _convert(column.strip(), cell)
    return event


def _raw_records(path: Path) -> Iterator[tuple[int, Any | Rejected]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, csv_row_to_event(row)
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield number, Rejected(number, f"malformed JSON: {exc}")


def read_events(
    path: Path, future_limit: FutureLimit | None = None
) -> Iterator[tuple[int, IncomingEvent | Rejected]]:
    """Yield ``(line number, event or rejection)`` for each record in ``path``.

    ``future_limit``: refuse events stamped further ahead of the clock than it allows, as
    ``POST /v1/events`` does.
    """
    for number, record in _raw_records(path):
        if isinstance(record, Rejected):
            yield number, record
            continue
        try:
            yield number, parse_event(record, future_limit=future_limit)
        except EventValidationError as exc:
            yield number, Rejected(number, str(exc))
