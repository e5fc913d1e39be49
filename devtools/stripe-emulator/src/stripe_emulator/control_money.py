"""The control API's refund and dispute plays: Dashboard refunds, bank answers, chargebacks."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from stripe_emulator import disputes, refunds
from stripe_emulator.deps import PaymentsDep, local_control_only
from stripe_emulator.params import validate_metadata

router = APIRouter(
    prefix="/_emulator", tags=["emulator control"], dependencies=[Depends(local_control_only)]
)


class PaymentRef(BaseModel):
    """Which payment: its payment intent or its charge (one of the two)."""

    payment_intent: str | None = Field(default=None, description="pi_... of the payment.")
    charge: str | None = Field(default=None, description="ch_... or py_... of the payment.")


class DashboardRefund(PaymentRef):
    """A refund an operator makes in the Dashboard (not through the API)."""

    amount: int | None = Field(default=None, ge=1, description="Default: what is left.")
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    metadata: dict[str, str] = Field(default_factory=dict, description="Refund metadata.")
    pending: bool = Field(default=False, description="Start pending (settle it later).")


class PendingRefunds(BaseModel):
    """How many next API refunds start pending."""

    count: int | None = Field(
        default=None, ge=0, description="Next N refunds; null: every one until changed; 0: none."
    )


class RefundSettlement(BaseModel):
    """The bank's answer to a pending refund."""

    outcome: Literal["succeeded", "failed"]
    failure_reason: refunds.FailureReason = Field(
        default="declined", description="Stripe's refund.failure_reason when it failed."
    )


class DisputeOpening(PaymentRef):
    """A cardholder's bank disputes a payment."""

    amount: int | None = Field(default=None, ge=1, description="Default: the unrefunded amount.")
    reason: disputes.DisputeReason = Field(default="fraudulent", description="Stripe's reason.")


class DisputeClosing(BaseModel):
    """How the bank decides a dispute."""

    outcome: Literal["won", "lost"]


@router.post("/refunds")
async def dashboard_refund(payments: PaymentsDep, body: DashboardRefund) -> dict[str, Any]:
    """Refund from the Dashboard: refund.created and charge.refunded, no idempotency key."""
    charge = refunds.charge_of(payments, body.payment_intent, body.charge)
    refund = refunds.refund_charge(
        payments,
        charge,
        body.amount,
        reason=body.reason,
        metadata=validate_metadata(dict(body.metadata)),
        ctx=refunds.dashboard_context(),
        pending=body.pending,
    )
    return payments.store.render(refund)


@router.post("/refunds/pending")
async def set_pending_refunds(payments: PaymentsDep, body: PendingRefunds) -> dict[str, Any]:
    """Make the next API refunds start `pending`, as bank refunds do, until settled."""
    payments.store.refunds_pending = body.count
    return {"count": payments.store.refunds_pending}


@router.get("/refunds/pending")
async def get_pending_refunds(payments: PaymentsDep) -> dict[str, Any]:
    """How many next API refunds start pending (null: every one)."""
    return {"count": payments.store.refunds_pending}


@router.post("/refunds/{refund_id}/settle")
async def settle_refund(
    payments: PaymentsDep, refund_id: str, body: RefundSettlement
) -> dict[str, Any]:
    """A pending refund succeeds or fails; answers the refund."""
    refund = refunds.settle_refund(
        payments,
        refund_id,
        succeeded=body.outcome == "succeeded",
        failure_reason=body.failure_reason,
    )
    return payments.store.render(refund)


@router.post("/disputes")
async def open_dispute(payments: PaymentsDep, body: DisputeOpening) -> dict[str, Any]:
    """Open a dispute on a succeeded payment; answers the dispute."""
    charge = refunds.charge_of(payments, body.payment_intent, body.charge)
    dispute = disputes.open_dispute(payments, charge, body.amount, body.reason)
    return payments.store.render(dispute)


@router.post("/disputes/{dispute_id}/close")
async def close_dispute(
    payments: PaymentsDep, dispute_id: str, body: DisputeClosing
) -> dict[str, Any]:
    """Close a dispute won or lost; answers the dispute."""
    dispute = disputes.close_dispute(payments, dispute_id, won=body.outcome == "won")
    return payments.store.render(dispute)
