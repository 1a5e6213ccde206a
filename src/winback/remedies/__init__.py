"""Remedies: what Winback may offer a customer, who may grant how much, and what to offer first."""
