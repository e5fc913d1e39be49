"""What happens to sessions, payment intents and charges, and the events each step emits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog

from stripe_emulator import objects, payment_objects
from stripe_emulator.checkout import build_session
from stripe_emulator.errors import StripeError
from stripe_emulator.ids import new_id, now
from stripe_emulator.objects import Obj
from stripe_emulator.params import Params
from stripe_emulator.settings import EmulatorSettings
from stripe_emulator.store import Store

log = structlog.get_logger("stripe_emulator")

Outcome = Literal["paid", "delayed", "delayed_succeeded", "delayed_failed", "failed", "expired"]
DeclineCode = Literal[
    "generic_decline", "insufficient_funds", "lost_card", "stolen_card", "fraudulent",
    "do_not_honor", "card_velocity_exceeded",
]  # fmt: skip
DECLINE_MESSAGES = {"insufficient_funds": "Your card has insufficient funds."}
DELAYED_METHOD = "us_bank_account"


@dataclass(frozen=True)
class RequestContext:
    """The API request that caused an event (Stripe's event.request)."""

    request_id: str | None = None
    idempotency_key: str | None = None


Publisher = Callable[[Obj], int]  # hands an event to webhook delivery, answers the endpoint count


class Payments:
    """The emulator's service layer: every state change goes through here."""

    def __init__(self, store: Store, settings: EmulatorSettings, publish: Publisher) -> None:
        self.store = store
        self.settings = settings
        self.publish = publish

    def emit(
        self,
        event_type: str,
        obj: Obj,
        ctx: RequestContext | None = None,
        previous: Obj | None = None,
    ) -> Obj:
        """Record an event with a snapshot of obj (and what changed) and send it to the webhooks."""
        ctx = ctx or RequestContext()
        event = objects.event(
            event_type,
            self.store.render(obj),
            api_version=self.settings.api_version,
            request_id=ctx.request_id,
            idempotency_key=ctx.idempotency_key,
            pending_webhooks=0,
            previous_attributes=previous,
        )
        self.store.add(event)
        event["pending_webhooks"] = self.publish(event)
        log.info("event emitted", event_id=event["id"], event_type=event_type, object_id=obj["id"])
        return event

    # sessions

    def create_session(self, params: Params) -> Obj:
        """POST /v1/checkout/sessions."""
        session, items = build_session(params, self.settings)
        self.store.line_items[session["id"]] = items
        return self.store.add(session)

    def expire_session(self, session_id: str) -> Obj:
        """Expire an open session (the API call, the control API or the expiry sweep)."""
        session = self.store.get(session_id, "session")
        if session["status"] != "open":
            raise StripeError(
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f'Session has a status of "{session["status"]}".',
                param="session",
            )
        session.update(status="expired", url=None)
        intent = self._intent_of(session)
        if intent is not None and intent["status"] != "canceled":
            intent.update(status="canceled", canceled_at=now(), cancellation_reason="automatic")
            self.emit("payment_intent.canceled", intent)
        self.emit("checkout.session.expired", session)
        return session

    def expire_due(self) -> int:
        """Expire every open session whose expires_at has passed."""
        due = [
            s["id"]
            for s in self.store.sessions.values()
            if s["status"] == "open" and s["expires_at"] <= now()
        ]
        for session_id in due:
            self.expire_session(session_id)
        return len(due)

    def complete(
        self, session_id: str, outcome: Outcome, decline_code: DeclineCode = "generic_decline"
    ) -> Obj:
        """Play one customer outcome on a session (the hosted page and the control API)."""
        session = self.store.get(session_id, "session")
        if outcome == "expired":
            return self.expire_session(session_id)
        if outcome in ("delayed_succeeded", "delayed_failed"):
            if session["status"] == "open":
                self._pay(session, "delayed")
            self._settle(session, succeeded=outcome == "delayed_succeeded")
            return session
        self._pay(session, outcome, decline_code)
        return session

    def _require_open(self, session: Obj) -> None:
        if session["status"] != "open":
            raise StripeError(
                f"This Checkout Session is no longer open (status {session['status']}).",
                param="session",
                code="checkout_session_not_open",
            )

    def _intent_of(self, session: Obj) -> Obj | None:
        pi_id = session.get("payment_intent")
        return self.store.intents.get(pi_id) if pi_id else None

    def _ensure_intent(self, session: Obj) -> Obj:
        intent = self._intent_of(session)
        if intent is None:
            data = session["_payment_intent_data"]
            intent = self.store.add(payment_objects.payment_intent(session, data))
            session["payment_intent"] = intent["id"]
            self.emit("payment_intent.created", intent)
        return intent

    def _pay(
        self, session: Obj, outcome: str, decline_code: DeclineCode = "generic_decline"
    ) -> None:
        self._require_open(session)
        intent = self._ensure_intent(session)
        email = payment_objects.customer_details(session)["email"]
        if outcome == "failed":
            failed = self.store.add(
                payment_objects.charge(intent, method="card", status="failed", email=email)
            )
            message = DECLINE_MESSAGES.get(decline_code, "Your card was declined.")
            failed.update(
                failure_code="card_declined",
                failure_message=message,
                outcome={
                    **failed["outcome"],
                    "network_status": "declined_by_network",
                    "reason": decline_code,
                    "type": "issuer_declined",
                    "seller_message": "The bank did not return any further details.",
                },
            )
            intent.update(
                status="requires_payment_method",
                latest_charge=failed["id"],
                last_payment_error={
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": decline_code,
                    "message": message,
                    "charge": failed["id"],
                    "payment_method": {
                        "id": failed["payment_method"],
                        "object": "payment_method",
                        "type": "card",
                    },
                },
            )
            self.emit("charge.failed", failed)
            self.emit("payment_intent.payment_failed", intent)
            return
        delayed = outcome == "delayed"
        method = DELAYED_METHOD if delayed else "card"
        charge = self.store.add(
            payment_objects.charge(
                intent, method=method, status="pending" if delayed else "succeeded", email=email
            )
        )
        intent.update(
            latest_charge=charge["id"],
            last_payment_error=None,
            payment_method=charge["payment_method"],
        )
        details = payment_objects.customer_details(session)
        session.update(status="complete", url=None, customer_details=details)
        if delayed:
            intent.update(status="processing", processing={"type": method})
            self.emit("charge.pending", charge)
            self.emit("payment_intent.processing", intent)
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
            session.update(payment_status="paid")
            self.emit("charge.succeeded", charge)
            self.emit("payment_intent.succeeded", intent)
        self.emit("checkout.session.completed", session)
        if not delayed:
            self._book_balance(charge)

    def _book_balance(self, charge: Obj) -> None:
        """Stripe books a charge's balance transaction after charge.succeeded: charge.updated."""
        charge["balance_transaction"] = new_id("txn")
        self.emit("charge.updated", charge, previous={"balance_transaction": None})

    def _settle(self, session: Obj, *, succeeded: bool) -> None:
        intent = self._intent_of(session)
        if session["status"] != "complete" or intent is None or intent["status"] != "processing":
            raise StripeError(
                "Only a completed session whose payment is processing can be settled.",
                param="session",
                code="payment_intent_unexpected_state",
            )
        charge = self.store.get(intent["latest_charge"])
        intent["processing"] = None
        if succeeded:
            charge.update(
                status="succeeded", paid=True, captured=True, amount_captured=charge["amount"]
            )
            intent.update(status="succeeded", amount_received=intent["amount"])
            session.update(payment_status="paid")
            self.emit("charge.succeeded", charge)
            self.emit("payment_intent.succeeded", intent)
            self.emit("checkout.session.async_payment_succeeded", session)
            self._book_balance(charge)
            return
        charge.update(
            status="failed",
            failure_code="account_closed",
            failure_message="The customer's bank account has been closed.",
        )
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                "type": "invalid_request_error",
                "code": "account_closed",
                "message": charge["failure_message"],
                "charge": charge["id"],
            },
        )
        self.emit("charge.failed", charge)
        self.emit("payment_intent.payment_failed", intent)
        self.emit("checkout.session.async_payment_failed", session)
