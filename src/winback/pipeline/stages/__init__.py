"""The processor's stages, in their fixed order.

```
customer ─► text ─► risk ─► playbooks (or the built-in rule) ─► case ─► sla
```

Each reads what the stages before it left on the typed
:class:`~winback.pipeline.context.EventContext` and writes through the
:class:`~winback.pipeline.ports.Unit`. The case stage is the only one that changes a case, and
it does so with a transition from :mod:`winback.cases.transitions`.
"""

from __future__ import annotations

from datetime import timedelta

from winback.pipeline.ports import Stage
from winback.pipeline.stages.case import DEFAULT_REOPEN_WINDOW, CaseStage, RuleStage
from winback.pipeline.stages.customer import CustomerStateStage
from winback.pipeline.stages.playbooks import PlaybookStage
from winback.pipeline.stages.risk import RiskStage
from winback.pipeline.stages.sla import SlaStage
from winback.pipeline.stages.text import TextStage
from winback.playbooks.model import PlaybookSet
from winback.sla.engine import SlaEngine
from winback.sources import Source


def default_stages(
    *,
    text: TextStage | None = None,
    risk: RiskStage | None = None,
    playbooks: Source[PlaybookSet] | None = None,
    sla: Source[SlaEngine] | None = None,
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
) -> list[Stage]:
    """The stages in order. Without ``playbooks`` the built-in rule decides."""
    decide: Stage = RuleStage() if playbooks is None else PlaybookStage(playbooks)
    return [
        CustomerStateStage(),
        text or TextStage(),
        risk or RiskStage(),
        decide,
        CaseStage(reopen_window),
        SlaStage(sla),
    ]


__all__ = [
    "CaseStage",
    "CustomerStateStage",
    "PlaybookStage",
    "RiskStage",
    "RuleStage",
    "SlaStage",
    "TextStage",
    "default_stages",
]
