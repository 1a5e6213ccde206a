"""Customers: profile and live state, updated incrementally per event."""
