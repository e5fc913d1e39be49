"""The unit of work the checkout use cases are written against: one transaction, one repository.

The convention is backbone's (`backbone.db.AbstractUnitOfWork`): `async with uow:` opens a
transaction, `await uow.commit()` keeps it, leaving the block without it rolls back. A recorded
session and its outbox row commit together. The PostgreSQL one is
`checkout.adapters.unit_of_work.SqlCheckoutUnitOfWork`; the unit tests drive a fake.
"""

from __future__ import annotations

import abc

from backbone.db import AbstractUnitOfWork
from checkout.service_layer.ports import CheckoutRepository


class CheckoutUnitOfWork(AbstractUnitOfWork):
    """A transaction of the checkout database: its repository, and records for the outbox."""

    repo: CheckoutRepository

    @abc.abstractmethod
    def publish(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, str]]) -> None:
        """Queue a record in the outbox, in this transaction."""
