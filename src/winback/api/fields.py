"""Input constraints shared by the routes: what the database can hold, refused as 422 up front.

- ids are 64-bit (``BIGINT``): a larger path id, cursor or ``grant_id`` cannot name anything,
  and handing it to the database driver fails with an overflow instead of an answer;
- PostgreSQL stores no NUL character (``\\u0000``) in text, so no text field may hold one (the
  event schema applies the same rule to events: :mod:`winback.events.schema`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, field_validator

MAX_ID = 2**63 - 1
NUL_MESSAGE = "must not contain NUL characters (\\u0000)"


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


NulFree = AfterValidator(no_nul)
"""For a ``str`` path or query parameter: ``Annotated[str, Query(...), NulFree]``."""

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id.")]
CustomerId = Annotated[str, Path(description="Your id for the customer."), NulFree]
AgentId = Annotated[str, Path(min_length=1, max_length=200, description="The agent's id."), NulFree]


class NulFreeModel(BaseModel):
    """A request body whose text fields (and lists of text) may not hold a NUL character."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str):
            no_nul(value)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str) and "\x00" in item:
                    raise ValueError(f"item {index} {NUL_MESSAGE}")
        return value
