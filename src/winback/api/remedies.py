"""``GET /v1/cases/{id}/recommendations``: the remedies a case may get, best first, and why.

The remedy actions themselves (``apply_remedy``, ``approve``, ``reject``) go through
``POST /v1/cases/{id}/actions`` (see :mod:`winback.api.case_actions` and docs/remedies.md).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from winback.api.deps import ContainerDep
from winback.api.errors import ErrorBody
from winback.api.fields import CaseId
from winback.bootstrap import Container
from winback.remedies.catalogue import ROLES, Catalogue
from winback.remedies.config import REMEDIES_FILE, load_catalogue
from winback.remedies.service import recommendations
from winback.store.case_commands import CaseNotFound

router = APIRouter(tags=["remedies"])


@functools.lru_cache(maxsize=4)
def _catalogue_for(config_dir: Path | None, stamp: float) -> Catalogue:
    return load_catalogue(config_dir)


def remedy_catalogue(container: Container) -> Catalogue:
    """The catalogue from ``remedies.yaml`` (re-read when the file changes), else the defaults."""
    config_dir = container.settings.config_dir
    path = None if config_dir is None else config_dir / REMEDIES_FILE
    stamp = path.stat().st_mtime if path is not None and path.exists() else 0.0
    return _catalogue_for(config_dir, stamp)


@router.get(
    "/v1/cases/{case_id}/recommendations",
    summary="Rank the remedies this case is eligible for, with the reasons",
    responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def case_recommendations(
    case_id: CaseId,
    container: ContainerDep,
    role: Annotated[str, Query(description="Whose limits apply: " + ", ".join(ROLES))] = "agent",
) -> dict[str, Any]:
    if role not in ROLES:
        raise HTTPException(422, f"role: one of {', '.join(ROLES)}")
    catalogue = remedy_catalogue(container)
    with container.engine.connect() as conn:
        try:
            return recommendations(conn, catalogue, case_id, container.clock.now(), role)
        except CaseNotFound:
            raise HTTPException(404, f"no case {case_id}") from None
