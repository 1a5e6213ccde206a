"""``GET /v1/cases/{id}/recommendations``: the remedies a case may get, best first, and why.

The remedy actions themselves (``apply_remedy``, ``approve``, ``reject``) go through
``POST /v1/cases/{id}/actions`` (see :mod:`winback.api.case_actions` and docs/remedies.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from winback.api.auth import Require
from winback.api.deps import RuntimeDep
from winback.api.errors import ErrorBody
from winback.api.fields import CaseId
from winback.identity import Principal, remedy_role
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
    principal: Annotated[Principal, Depends(Require("cases:read"))],
) -> dict[str, Any]:
    """Ranked for the caller: the limits of the caller's own role apply (a caller who may not
    grant remedies, such as an analyst or an API key, sees them under an agent's limits)."""
    catalogue = container.sources.remedies.get()
    role = remedy_role(principal)
    if role is None or catalogue.role_rank(role) < 0:
        role = "agent"
    with container.engine.connect() as conn:
        return recommendations(conn, catalogue, case_id, container.clock.now(), role)
