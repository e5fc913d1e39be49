"""Errors a caller of the service layer can act on; the API maps each one to a response once."""

from __future__ import annotations

from reservation.domain.model import BookingError

__all__ = [
    "BookingError",
    "NotCancellable",
    "NotPayable",
    "ReferenceTaken",
    "ReservationNotFound",
    "SlotTaken",
]


class ReservationNotFound(LookupError):
    """No such reservation for this user (another user's reservation is not found either)."""

    def __init__(self, reservation_id: str) -> None:
        super().__init__(f"reservation {reservation_id} not found")
        self.reservation_id = reservation_id


class SlotTaken(RuntimeError):
    """Another live reservation holds part of the slot."""

    def __init__(self, slot: str) -> None:
        super().__init__(f"the slot {slot} is already taken")
        self.slot = slot


class ReferenceTaken(RuntimeError):
    """A new reservation's booking reference is already in use (the booking retries with a new
    one): the repository's translation of the unique constraint."""


class NotCancellable(RuntimeError):
    """Only an unpaid reservation with no payment in flight can be cancelled."""

    def __init__(self, reservation_id: str, status: str) -> None:
        super().__init__(f"reservation {reservation_id} is {status} and cannot be cancelled")
        self.reservation_id = reservation_id
        self.status = status


class NotPayable(RuntimeError):
    """The reservation cannot be paid now (already paid, in payment, expired, cancelled)."""

    def __init__(self, reservation_id: str, reason: str) -> None:
        super().__init__(f"reservation {reservation_id} cannot be paid: {reason}")
        self.reservation_id = reservation_id
        self.reason = reason
