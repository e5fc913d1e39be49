"""Which e-mail each fact calls for, and how it reads: pure, from the contracts' examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest

from contracts.reservation import ReservationFact, parse_fact
from notifier.adapters.templates import Renderer
from notifier.domain.compose import OPERATOR_TEMPLATES, TEMPLATES, plan_email, template_for
from notifier.domain.formatting import (
    format_money,
    format_slot,
    is_deliverable_address,
    one_line,
    safe_link,
)
from notifier.domain.model import message_id_for

EXAMPLES = Path(__file__).parents[4] / "libs/contracts/examples/reservation.events"
FACTS = sorted(EXAMPLES.glob("*.json"))


def _fact(path: Path) -> ReservationFact:
    return parse_fact(path.read_bytes())


@pytest.mark.parametrize("path", FACTS, ids=[p.stem for p in FACTS])
def test_every_example_fact_renders_both_parts(path: Path) -> None:
    fact = _fact(path)
    email = plan_email(fact, operator_email="ops@studio.test", checkout_url="http://c.test/")
    main = template_for(fact.event_type)
    assert main is not None
    # A refund fact may pick a variant of its main template (booking stands, partial).
    assert email.template.startswith(main)
    assert email.template in TEMPLATES
    expected = "ops@studio.test" if email.template in OPERATOR_TEMPLATES else fact.user_email
    assert email.recipient == expected
    rendered = Renderer("n.test").render(email)
    assert rendered.message_id == f"<{fact.event_id}@n.test>"
    assert rendered.text.strip()
    assert "<html" in rendered.html
    assert "\n" not in email.subject


def test_beat_titles_are_escaped_in_html_only() -> None:
    fact = _fact(EXAMPLES / "order_confirmed.json")
    rendered = Renderer("n.test").render(
        plan_email(fact, operator_email="o@s.test", checkout_url="http://c.test/")
    )
    assert "Neon &lt;Rain&gt; &amp; Co" in rendered.html
    assert "<Rain>" not in rendered.html
    assert "Neon <Rain> & Co" in rendered.text


@pytest.mark.parametrize(
    ("example", "template", "says"),
    [
        ("reservation_refunded_charge", "reservation_refunded", "Refund issued"),
        ("reservation_refunded_duplicate", "reservation_refunded_duplicate", "booking stands"),
        ("reservation_refunded_partial", "reservation_refunded_partial", "booking stands"),
        ("order_refunded", "order_refunded", "refunded in full"),
    ],
)
def test_refund_emails_say_what_happened(example: str, template: str, says: str) -> None:
    fact = _fact(EXAMPLES / f"{example}.json")
    email = plan_email(fact, operator_email="o@s.test", checkout_url="http://c.test/")
    assert email.template == template
    rendered = Renderer("n.test").render(email)
    assert says in rendered.text
    assert says in rendered.html
    assert "re_" in rendered.text


def test_a_failure_after_the_hold_lapsed_does_not_invite_a_retry_until_a_past_time() -> None:
    held = _fact(EXAMPLES / "reservation_payment_failed.json")
    assert held.hold_expires_at is not None
    assert held.hold_expires_at > held.occurred_at
    lapsed = held.model_copy(update={"hold_expires_at": held.occurred_at - timedelta(minutes=5)})
    renderer = Renderer("n.test")
    still_held = renderer.render(plan_email(held, operator_email="o@s.test", checkout_url="x"))
    assert "until" in still_held.text
    assert "Return to checkout and pay" in still_held.html
    gone = renderer.render(plan_email(lapsed, operator_email="o@s.test", checkout_url="x"))
    for part in (gone.text, gone.html):
        assert "until" not in part
        assert "has run out" in part
        assert "Book again" in part


def test_message_id_is_stable() -> None:
    event_id = UUID("a1b2c3d4-0001-4000-8000-000000000001")
    assert message_id_for(event_id, "d") == message_id_for(event_id, "d")
    assert message_id_for(event_id, "d") == "<a1b2c3d4-0001-4000-8000-000000000001@d>"


def test_unknown_event_type_has_no_template() -> None:
    assert template_for("reservation.rescheduled.v9") is None
    assert template_for(None) is None


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (15000, "eur", "€150.00"),
        (5, "usd", "$0.05"),
        (1500, "jpy", "1,500 JPY"),
        (123456, "chf", "1,234.56 CHF"),
    ],
)
def test_format_money(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_format_slot_in_the_booked_zone() -> None:
    cet = timezone(timedelta(hours=1))
    starts = datetime(2025, 3, 14, 14, 0, tzinfo=cet)
    assert format_slot(starts, starts + timedelta(hours=2)) == (
        "Friday 14 March 2025, 14:00-16:00 (UTC+01:00)"
    )
    overnight = format_slot(starts.astimezone(UTC), starts.astimezone(UTC) + timedelta(hours=12))
    assert overnight == "Friday 14 March 2025 13:00 to Saturday 15 March 2025 01:00 (UTC+00:00)"


def test_helpers() -> None:
    assert one_line("a\r\n  b\tc") == "a b c"
    assert len(one_line("x" * 500)) == 150
    assert safe_link("javascript:alert(1)", "http://f/") == "http://f/"
    assert safe_link("https://shop.test/pay?x=1", "http://f/") == "https://shop.test/pay?x=1"
    assert safe_link(None, "http://f/") == "http://f/"
    assert is_deliverable_address("ada@example.com")
    for bad in ("not an address", "ada@localhost", "a@b.c\nBcc: x@y.z", "<a@b.c>"):
        assert not is_deliverable_address(bad)
