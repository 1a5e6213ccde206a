"""Recovery cases: one open case per customer, its lifecycle and its timeline."""
