"""Winback: real-time service recovery.

Catches every signal of dissatisfaction as it happens, opens one recovery case per customer with
one owner, and keeps the loop honest with durable storage and numbers.
"""

__version__ = "0.1.0"
