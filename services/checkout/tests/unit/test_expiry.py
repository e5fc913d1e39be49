"""A session's expiry: the hold when Stripe allows it, else Stripe's floor; stable per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checkout.domain.expiry import session_expiry

NOW = datetime(2026, 3, 14, 11, 0, 17, 500000, tzinfo=UTC)
MIN = timedelta(minutes=31)
BEATS = timedelta(hours=1)


def expiry(hold: datetime | None, now: datetime = NOW):  # type: ignore[no-untyped-def]
    return session_expiry(now, hold, min_lifetime=MIN, beats_lifetime=BEATS)


def test_a_long_hold_is_the_expiry() -> None:
    hold = NOW + timedelta(hours=2, seconds=3.7)
    result = expiry(hold)
    assert result.at == hold.replace(microsecond=0)
    assert not result.extends_hold


def test_a_short_hold_gets_stripes_floor_and_says_so() -> None:
    result = expiry(NOW + timedelta(minutes=5))
    assert result.extends_hold
    assert NOW + MIN <= result.at < NOW + MIN + timedelta(minutes=1)


def test_the_floor_is_the_same_within_a_minute() -> None:
    hold = NOW + timedelta(minutes=5)
    a = expiry(hold, NOW.replace(second=1))
    b = expiry(hold, NOW.replace(second=59))
    assert a == b


def test_beats_only_and_very_long_holds_stay_within_24_hours() -> None:
    beats = expiry(None)
    assert beats.at == (NOW + BEATS).replace(second=0, microsecond=0)
    far = expiry(NOW + timedelta(days=3))
    assert far.at <= NOW + timedelta(hours=24)
    assert far.at > NOW + timedelta(hours=23)
