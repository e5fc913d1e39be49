"""The hosted payment page at session.url: pay, pay with a delayed method, fail, or cancel."""

from __future__ import annotations

from html import escape
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stripe_emulator.deps import PaymentsDep
from stripe_emulator.errors import StripeError
from stripe_emulator.objects import Obj
from stripe_emulator.payments import Payments

router = APIRouter(prefix="/c/pay", include_in_schema=False)

SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
_STYLE = """body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;color:#1a1f36}
table{width:100%;border-collapse:collapse}td{padding:.4rem 0;border-bottom:1px solid #e3e8ee}
td.r{text-align:right}.total{font-weight:600}.note{color:#697386}.err{color:#c0123c}
form{display:inline}button{margin:.3rem .3rem 0 0;padding:.5rem 1rem;font-size:1rem}"""


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><p class='note'>Stripe emulator · test mode</p>"
        f"<h1>{escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _button(session_id: str, action: str, label: str) -> str:
    return (
        f"<form method='post' action='/c/pay/{escape(session_id)}/{action}'>"
        f"<button type='submit' name='action' value='{action}'>{escape(label)}</button></form>"
    )


def _link(url: str | None, label: str) -> str:
    return f"<p><a href='{escape(url)}'>{escape(label)}</a></p>" if url else ""


def _success_url(session: Obj) -> str | None:
    url = session.get("success_url")
    return url.replace(SESSION_PLACEHOLDER, session["id"]) if url else None


def _summary(payments: Payments, session: Obj) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(item['description']))} x {item['quantity']}</td>"
        f"<td class='r'>{_money(item['amount_total'], item['currency'])}</td></tr>"
        for item in payments.store.line_items.get(session["id"], [])
    )
    total = _money(session["amount_total"], session["currency"])
    return f"<table>{rows}<tr class='total'><td>Total</td><td class='r'>{total}</td></tr></table>"


def _render(payments: Payments, session: Obj) -> HTMLResponse:
    sid = session["id"]
    summary = _summary(payments, session)
    intent = payments.store.intents.get(session.get("payment_intent") or "")
    if session["status"] == "open":
        error = (intent or {}).get("last_payment_error")
        notice = f"<p class='err'>{escape(error['message'])}</p>" if error else ""
        buttons = (
            _button(sid, "pay", "Pay")
            + _button(sid, "delayed", "Pay with a delayed method")
            + _button(sid, "fail", "Fail (card declined)")
            + _button(sid, "cancel", "Cancel")
        )
        return _page("Checkout", f"{summary}{notice}<p>{buttons}</p>")
    if session["status"] == "expired":
        return _page("This checkout session has expired", summary)
    if intent is not None and intent["status"] == "processing":
        buttons = _button(sid, "settle/succeeded", "Bank confirms the payment") + _button(
            sid, "settle/failed", "Bank rejects the payment"
        )
        body = (
            f"{summary}<p>The payment is processing; the bank has not answered yet.</p>"
            f"<p>{buttons}</p>{_link(_success_url(session), 'Return to the merchant')}"
        )
        return _page("Payment processing", body)
    title = "Paid" if session["payment_status"] == "paid" else "Payment failed"
    return _page(title, summary + _link(_success_url(session), "Return to the merchant"))


def _session(payments: Payments, session_id: str) -> Obj | HTMLResponse:
    session = payments.store.sessions.get(session_id)
    if session is None:
        return _page("No such checkout session", f"<p>{escape(session_id)}</p>", 404)
    return session


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/{session_id}")
async def show(payments: PaymentsDep, session_id: str) -> Response:
    """The page a customer lands on from session.url."""
    session = _session(payments, session_id)
    return session if isinstance(session, HTMLResponse) else _render(payments, session)


@router.post("/{session_id}/{action}")
async def act(
    payments: PaymentsDep, session_id: str, action: Literal["pay", "delayed", "fail", "cancel"]
) -> Response:
    """A customer's choice on the page."""
    session = _session(payments, session_id)
    if isinstance(session, HTMLResponse):
        return session
    page = f"/c/pay/{session_id}"
    if session["status"] != "open":
        return _render(payments, session)
    if action == "cancel":  # Stripe sends no event when the customer goes back
        return _redirect(session.get("cancel_url") or page)
    try:
        if action == "pay":
            payments.complete(session_id, "paid")
            return _redirect(_success_url(session) or page)
        payments.complete(session_id, "delayed" if action == "delayed" else "failed")
    except StripeError as exc:
        return _page("Cannot do that", f"<p class='err'>{escape(exc.message)}</p>", exc.status)
    return _redirect(page)


@router.post("/{session_id}/settle/{result}")
async def settle(
    payments: PaymentsDep, session_id: str, result: Literal["succeeded", "failed"]
) -> Response:
    """The bank's late answer for a delayed payment method."""
    session = _session(payments, session_id)
    if isinstance(session, HTMLResponse):
        return session
    try:
        payments.complete(
            session_id, "delayed_succeeded" if result == "succeeded" else "delayed_failed"
        )
    except StripeError as exc:
        return _page("Cannot do that", f"<p class='err'>{escape(exc.message)}</p>", exc.status)
    return _redirect(f"/c/pay/{session_id}")
