"""Adapters: tables, the repository and unit of work on them, Stripe, reservations, metrics."""
