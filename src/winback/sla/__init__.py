"""SLA clocks: business calendars, policies, deadlines, and the durable timer service.

The pure parts (``calendar``, ``policy``, ``config``, ``tracking``, ``engine``, ``stage``) take
values and return values; ``service`` is the edge that reads and writes timers in the store.
"""

from winback.sla.calendar import Calendar, CalendarError, load_calendar

__all__ = ["Calendar", "CalendarError", "load_calendar"]
