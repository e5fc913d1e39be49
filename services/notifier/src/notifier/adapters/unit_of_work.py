"""The notifier's unit of work on PostgreSQL: backbone's SqlUnitOfWork with the rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db import SqlUnitOfWork
from notifier.adapters.repository import SqlNotificationRepository
from notifier.service_layer.ports import NotificationsUnitOfWork


class SqlNotificationsUnitOfWork(SqlUnitOfWork, NotificationsUnitOfWork):
    """One transaction on the notifier's database (explicit `commit()`, rollback on exit)."""

    def _bind(self, session: AsyncSession) -> None:
        self.notifications = SqlNotificationRepository(session)
