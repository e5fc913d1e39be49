"""Errors a caller of the service layer can act on; the API maps each one to a response once.

The payment provider's and the reservation service's errors are declared here, with the ports
they come through: the adapters raise them, the use cases and the API only ever see these.
"""

from __future__ import annotations

from typing import Literal

from checkout.domain.model import OrderError

__all__ = [
    "CartItemNotFound",
    "CheckoutInProgress",
    "EmailRequired",
    "OrderError",
    "ReservationRefused",
    "ReservationServiceUnavailable",
    "SessionNotFound",
    "StripeIdempotencyConflict",
    "StripeRefused",
    "StripeUnavailable",
    "UnavailableKind",
]

UnavailableKind = Literal["unreachable", "timeout", "server_error", "rate_limited"]


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


class ReservationRefused(RuntimeError):
    """The reservation service says a reservation cannot be paid by this caller now."""

    def __init__(self, status: int, code: str, message: str, reservation_id: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reservation_id = reservation_id


class ReservationServiceUnavailable(RuntimeError):
    """The reservation service could not be reached or failed: the caller may retry."""


class StripeUnavailable(RuntimeError):
    """Stripe could not be reached or kept failing within our bound: the caller may retry."""

    def __init__(
        self,
        kind: UnavailableKind,
        message: str,
        retry_after: float | None = None,
        *,
        replayed: bool = False,
    ):
        super().__init__(message)
        self.kind: UnavailableKind = kind
        self.message = message
        self.retry_after = retry_after
        # A 5xx Stripe stored under the idempotency key and replayed: the key is spent.
        self.replayed = replayed


class StripeRefused(RuntimeError):
    """Stripe refused the request (card or validation error): retrying it unchanged won't help."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param


class StripeIdempotencyConflict(RuntimeError):
    """The idempotency key was used with other parameters, or is in use by a concurrent request."""

    def __init__(self, message: str, *, in_use: bool) -> None:
        super().__init__(message)
        # True: a concurrent request holds the key (409); False: other parameters (400).
        self.in_use = in_use
