"""``GET /v1/cases/{id}/recommendations``: the remedies a case may get, best first, and why.

The remedy actions themselves (``apply_remedy``, ``approve``, ``reject``) go through
``POST /v1/cases/{id}/actions`` (see :mod:`winback.api.case_actions` and docs/remedies.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import CaseId
from winback.remedies.catalogue import ROLES
from winback.services.remedies import recommendations

router = APIRouter(tags=["remedies"])


@router.get(
    "/v1/cases/{case_id}/recommendations",
    summary="Rank the remedies this case is eligible for, with the reasons",
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def case_recommendations(
    case_id: CaseId,
    container: RuntimeDep,
    role: Annotated[str, Query(description="Whose limits apply: " + ", ".join(ROLES))] = "agent",
) -> dict[str, Any]:
    if role not in ROLES:
        raise HTTPException(422, f"role: one of {', '.join(ROLES)}")
    catalogue = container.sources.remedies.get()
    with container.engine.connect() as conn:
        return recommendations(conn, catalogue, case_id, container.clock.now(), role)
