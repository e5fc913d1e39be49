"""What a checkout is made of: server-priced reservations and beats, totals, type, metadata."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.checkout import (
    STRIPE_METADATA_VALUE_MAX,
    CheckoutType,
    ReservationCheckoutMetadata,
)

# Stripe's limits on the free texts we send: a description (the payment intent's, and ours in the
# metadata, whose values hold 500 characters) and a product name. Longer ones are shortened.
DESCRIPTION_MAX = STRIPE_METADATA_VALUE_MAX
NAME_MAX = 250


class OrderError(ValueError):
    """An order that cannot be sold as asked; `field` and `item_id` name the culprit."""

    def __init__(self, code: str, message: str, *, field: str, item_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.item_id = item_id


@dataclass(frozen=True)
class PricedReservation:
    """A reservation as the reservation service prices it (never as the client claims)."""

    id: str
    name: str
    amount: int
    currency: str
    hold_expires_at: datetime


@dataclass(frozen=True)
class Beat:
    """A beat of the catalog this service owns."""

    id: str
    title: str
    price: int
    currency: str


@dataclass(frozen=True)
class LineItem:
    """One line of the Stripe session: quantity is always one (a slot, a licence)."""

    item_id: str
    name: str
    unit_amount: int
    currency: str


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis (never sent over Stripe's limit)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_fits_metadata(reservation_ids: Sequence[str], cart_item_ids: Sequence[str]) -> None:
    """OrderError when the ids cannot travel in one Stripe metadata value (comma-joined).

    Cutting the list would drop a payment silently, so the caller splits the order instead.
    """
    for field, ids in (("reservation_ids", reservation_ids), ("cart_item_ids", cart_item_ids)):
        joined = len(",".join(ids))
        if joined > STRIPE_METADATA_VALUE_MAX:
            fitting = max(1, len(ids) * STRIPE_METADATA_VALUE_MAX // joined)
            raise OrderError(
                "too_many_items",
                f"{len(ids)} {field.split('_')[0]} items do not fit in one checkout: their ids "
                f"exceed Stripe's {STRIPE_METADATA_VALUE_MAX}-character metadata limit; pay at "
                f"most {fitting} at a time",
                field=field,
            )


def unique_ids(ids: Iterable[str]) -> list[str]:
    """Ids without repeats, sorted: the same items in any order or repetition are one order."""
    return sorted({i.strip() for i in ids if i.strip()})


@dataclass(frozen=True)
class Order:
    """Everything a session sells, priced from server records, in one canonical order."""

    user_id: str
    user_email: str
    reservations: tuple[PricedReservation, ...]
    beats: tuple[Beat, ...]

    @classmethod
    def build(
        cls,
        user_id: str,
        user_email: str,
        reservations: Sequence[PricedReservation],
        beats: Sequence[Beat],
    ) -> Order:
        """The order, or OrderError if it is empty or mixes currencies (Stripe allows one)."""
        if not reservations and not beats:
            raise OrderError("empty_order", "nothing to pay for", field="body")
        check_fits_metadata([r.id for r in reservations], [b.id for b in beats])
        order = cls(
            user_id,
            user_email,
            tuple(sorted(reservations, key=lambda r: r.id)),
            tuple(sorted(beats, key=lambda b: b.id)),
        )
        currency = order.currency
        for item in order.line_items:
            if item.currency != currency:
                field = (
                    "cart_item_ids" if item.item_id in order.cart_item_ids else "reservation_ids"
                )
                raise OrderError(
                    "currency_mismatch",
                    f"{item.item_id} is priced in {item.currency}, the rest in {currency}: "
                    "pay them separately",
                    field=field,
                    item_id=item.item_id,
                )
        return order

    @property
    def reservation_ids(self) -> list[str]:
        """The reservations paid, sorted."""
        return [r.id for r in self.reservations]

    @property
    def cart_item_ids(self) -> list[str]:
        """The beats paid, sorted."""
        return [b.id for b in self.beats]

    @property
    def checkout_type(self) -> CheckoutType:
        """The seed's type: reservation_payment, mixed_cart or beats_only."""
        if self.reservations and self.beats:
            return "mixed_cart"
        return "reservation_payment" if self.reservations else "beats_only"

    @property
    def currency(self) -> str:
        """The order's currency (lower case, as Stripe spells it)."""
        first = self.reservations[0].currency if self.reservations else self.beats[0].currency
        return first.lower()

    @property
    def line_items(self) -> list[LineItem]:
        """Reservations first, then beats, each sorted by id."""
        return [
            *(
                LineItem(r.id, shorten(r.name, NAME_MAX), r.amount, r.currency.lower())
                for r in self.reservations
            ),
            *(
                LineItem(b.id, shorten(f"Beat: {b.title}", NAME_MAX), b.price, b.currency.lower())
                for b in self.beats
            ),
        ]

    @property
    def services_total(self) -> int:
        """Sum of the reservations, minor units."""
        return sum(r.amount for r in self.reservations)

    @property
    def cart_total(self) -> int:
        """Sum of the beats, minor units."""
        return sum(b.price for b in self.beats)

    @property
    def order_total(self) -> int:
        """What the user is asked to pay, minor units."""
        return self.services_total + self.cart_total

    @property
    def hold_ends_at(self) -> datetime | None:
        """When the first reservation hold lapses (None for beats only: nothing is held)."""
        return min((r.hold_expires_at for r in self.reservations), default=None)

    @property
    def description(self) -> str:
        """A one-line summary for the metadata and the payment intent."""
        parts = [r.name for r in self.reservations]
        if len(self.beats) == 1:
            parts.append(f"Beat: {self.beats[0].title}")
        elif self.beats:
            parts.append(f"{len(self.beats)} beats")
        return shorten(" + ".join(parts), DESCRIPTION_MAX)

    def metadata(self) -> ReservationCheckoutMetadata:
        """The seed's metadata of the session."""
        return ReservationCheckoutMetadata(
            user_id=self.user_id,
            user_email=self.user_email,
            checkout_type=self.checkout_type,
            reservation_ids=self.reservation_ids,
            cart_item_ids=self.cart_item_ids,
            services_count=len(self.reservations),
            services_total=self.services_total,
            cart_count=len(self.beats),
            cart_total=self.cart_total,
            order_total=self.order_total,
            description=self.description,
        )

    @property
    def fingerprint(self) -> str:
        """Who buys which items: the same user and items in any order give the same value."""
        return _digest(
            {
                "user": self.user_id,
                "reservations": self.reservation_ids,
                "beats": self.cart_item_ids,
            }
        )

    def idempotency_key(self, generation: int) -> str:
        """The Stripe Idempotency-Key of the `generation`-th session of these items.

        Prices and the e-mail are part of it: Stripe refuses a key reused with other parameters,
        so a changed price is a new key rather than an error. `generation` counts the sessions of
        these items that ended (expired, paid), so buying again after one ended opens a new one.
        """
        priced = [[i.item_id, i.unit_amount, i.currency] for i in self.line_items]
        digest = _digest(
            {
                "items": self.fingerprint,
                "priced": priced,
                "email": self.user_email,
                "gen": generation,
            }
        )
        return f"checkout-{digest[:40]}-{generation}"


def _digest(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
