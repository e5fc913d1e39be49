"""Where the PostgreSQL unit of work was: it lives in adapters.unit_of_work now.

Use cases are written against service_layer.ports.ReservationUnitOfWork; this name stays only
for modules that still import it from here (bootstrap builds the real one).
"""

from __future__ import annotations

from reservation.adapters.unit_of_work import UnitOfWork

__all__ = ["UnitOfWork"]
