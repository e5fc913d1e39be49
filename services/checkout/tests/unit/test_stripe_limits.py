"""Stripe's size limits: ids that cannot travel are refused by name, long texts are shortened."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from checkout.domain.expiry import Expiry
from checkout.domain.model import (
    DESCRIPTION_MAX,
    NAME_MAX,
    Beat,
    Order,
    OrderError,
    PricedReservation,
)
from checkout.service_layer.attempts import Urls, session_params
from contracts.checkout import STRIPE_METADATA_VALUE_MAX

NOW = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)


def _reservation(name: str) -> PricedReservation:
    return PricedReservation(str(uuid.uuid4()), name, 15000, "eur", NOW + timedelta(hours=1))


def test_fourteen_reservations_are_refused_naming_the_limit() -> None:
    reservations = [_reservation("Mixing") for _ in range(14)]

    with pytest.raises(OrderError) as refused:
        Order.build("u1", "u1@x.test", reservations, [])

    assert refused.value.code == "too_many_items"
    assert refused.value.field == "reservation_ids"
    assert str(STRIPE_METADATA_VALUE_MAX) in refused.value.message
    assert "at most 13" in refused.value.message


def test_thirteen_fit() -> None:
    order = Order.build("u1", "u1@x.test", [_reservation("Mixing") for _ in range(13)], [])
    assert len(order.metadata().to_stripe_metadata()["reservationIds"]) <= 500


def test_long_names_and_descriptions_are_shortened_before_stripe() -> None:
    reservations = [_reservation("A very long studio service name " * 12) for _ in range(6)]
    beat = Beat("beat_x", "Y" * 200, 999, "eur")
    order = Order.build("u1", "u1@x.test", reservations, [beat])

    params = session_params(
        order, Expiry(NOW + timedelta(hours=1), False), Urls("https://s/ok", "https://s/no")
    )

    description = params["payment_intent_data"]["description"]
    assert len(description) == DESCRIPTION_MAX
    assert description.endswith("…")
    assert all(len(v) <= STRIPE_METADATA_VALUE_MAX for v in params["metadata"].values())
    names = [i["price_data"]["product_data"]["name"] for i in params["line_items"]]
    assert all(len(n) <= NAME_MAX for n in names)
    assert names[0].endswith("…")
