"""Use cases: each one unit of work (state change, inbox row and outbox rows in one transaction)."""
