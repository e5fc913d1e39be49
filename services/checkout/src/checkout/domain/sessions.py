"""What checkout records: the sessions Stripe made, and each create request, stored before sending.

Plain objects: the service layer reads, decides and writes them through a repository; the
tables they are stored in (and the mapping to and from rows) are the adapters' business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class CheckoutSession:
    """A Checkout Session Stripe created for a user, with what it sells at which price."""

    session_id: str
    user_id: str
    user_email: str
    fingerprint: str
    generation: int
    idempotency_key: str
    checkout_type: str
    reservation_ids: list[str]
    cart_item_ids: list[str]
    services_total: int
    cart_total: int
    order_total: int
    currency: str
    url: str
    status: str
    payment_status: str
    expires_at: datetime
    extends_hold: bool
    created_at: datetime
    updated_at: datetime
    request_id: str | None = None
    # Set when a newer session for the same reservations was recorded: this one is to be expired
    # at Stripe (after the commit, retried until Stripe answers) so it cannot be paid as well.
    expire_pending: bool = False
    superseded_by: str | None = None


@dataclass
class CheckoutAttempt:
    """One Stripe create request, stored before it is sent: a retry resends exactly it.

    `state`: pending (sent or about to be; the answer may have been lost), created (its session
    is recorded), burned (Stripe stored an error answer under the key, or the key cannot be
    reused), refused (Stripe refused the parameters), ended (its session had already ended).
    """

    idempotency_key: str
    user_id: str
    fingerprint: str
    generation: int
    params: dict[str, Any]
    extends_hold: bool
    state: str
    created_at: datetime
    updated_at: datetime
    session_id: str | None = None
