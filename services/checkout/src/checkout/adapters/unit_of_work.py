"""The checkout unit of work on PostgreSQL: backbone's SqlUnitOfWork with the checkout repository.

A recorded session and its outbox row commit together; leaving without `commit()` rolls back
(what was read stays readable: the repository hands out plain domain objects anyway).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db import SqlUnitOfWork, enqueue
from checkout.adapters.repository import Repository
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork


class SqlCheckoutUnitOfWork(SqlUnitOfWork, CheckoutUnitOfWork):
    """`async with uow:` opens a transaction; `commit()` keeps it, leaving without it rolls back."""

    repo: Repository

    def _bind(self, session: AsyncSession) -> None:
        self.repo = Repository(session)

    def publish(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, str]]) -> None:
        """Queue a record in the outbox, in this transaction."""
        enqueue(self.session, topic, value, key=key, headers=headers)
