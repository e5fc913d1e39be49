"""Alembic migrations of the reservation database."""
