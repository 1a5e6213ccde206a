"""The customer stage: create or update the customer the event is about."""

from __future__ import annotations

from winback.customers.profile import apply_event
from winback.pipeline.context import EventContext
from winback.pipeline.ports import Unit


class CustomerStateStage:
    name = "customer_state"

    def process(self, ctx: EventContext, unit: Unit) -> None:
        event = ctx.event
        customer = apply_event(
            unit.customer(event.customer_id), event.customer, event.occurred_at, unit.clock.now()
        )
        unit.save_customer(customer)
        ctx.customer = customer
