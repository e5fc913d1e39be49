"""reservation: owns reservations (API, idempotent payment worker, outbox relay, reconciliation)."""
