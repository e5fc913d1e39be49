"""Errors a caller of the service layer can act on; the API maps each one to a response once."""

from __future__ import annotations

from checkout.adapters.reservations import ReservationRefused, ReservationServiceUnavailable
from checkout.adapters.stripe_gateway import StripeRefused, StripeUnavailable
from checkout.domain.model import OrderError

__all__ = [
    "CartItemNotFound",
    "CheckoutInProgress",
    "EmailRequired",
    "OrderError",
    "ReservationRefused",
    "ReservationServiceUnavailable",
    "SessionNotFound",
    "StripeRefused",
    "StripeUnavailable",
]


class CartItemNotFound(LookupError):
    """A cart item that is not a beat of our catalog (or no longer on sale)."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"cart item {item_id} not found in the beats catalog")
        self.item_id = item_id


class EmailRequired(ValueError):
    """Neither the token nor the request gives an e-mail for the receipt and confirmation."""


class SessionNotFound(LookupError):
    """No such session for this user (another user's session is not found either)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"checkout session {session_id} not found")
        self.session_id = session_id


class CheckoutInProgress(RuntimeError):
    """A concurrent request for the same items is creating their session: retry shortly."""
