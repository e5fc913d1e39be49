"""The reservation API, asked over HTTP with the caller's own bearer token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from backbone.web import REQUEST_ID_HEADER
from checkout.domain.model import PricedReservation
from checkout.service_layer.errors import ReservationRefused, ReservationServiceUnavailable

__all__ = [
    "Forwarded",
    "ReservationClient",
    "ReservationRefused",
    "ReservationServiceUnavailable",
    "priced",
]

PAYABLE_PATH = "/api/reservations/payable"


@dataclass(frozen=True)
class Forwarded:
    """The reservation API's answer to a forwarded call: its status and JSON body, untouched."""

    status: int
    body: Any


class ReservationClient:
    """Asks the reservation service what the caller may pay: the token decides what is visible.

    One call to POST /api/reservations/payable: that service owns the rule (exists, the caller's,
    pending or in an open checkout, hold not run out) and answers its own prices.
    """

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def ping(self) -> bool:
        """Whether the reservation API answers its liveness probe."""
        try:
            return (await self._client.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def payable(
        self, reservation_ids: Sequence[str], token: str, request_id: str | None
    ) -> list[PricedReservation]:
        """The caller's reservations, priced, if every one can be paid now."""
        headers = {"Authorization": f"Bearer {token}"}
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        try:
            response = await self._client.post(
                PAYABLE_PATH, json={"reservation_ids": list(reservation_ids)}, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ReservationServiceUnavailable(
                f"the reservation service is unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code in (404, 409, 422):
            error = _error_of(response)
            raise ReservationRefused(
                response.status_code,
                str(error.get("code") or "reservation_not_payable"),
                str(error.get("message") or "reservation refused"),
                error.get("reservation_id"),
            )
        if response.status_code != 200:
            # 401/403 here means our verifier and theirs disagree: configuration, not the user.
            raise ReservationServiceUnavailable(
                f"the reservation service answered {response.status_code}"
            )
        return [priced(r) for r in response.json()["reservations"]]

    async def forward(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Forwarded:
        """A call on behalf of the page (same origin for the browser), with the caller's token.

        4xx answers pass through as the reservation API wrote them (same error shape); an
        unreachable service, a 5xx or a 401/403 (our verifier and theirs disagree: configuration,
        not the user) is ReservationServiceUnavailable.
        """
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        try:
            response = await self._client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ReservationServiceUnavailable(
                f"the reservation service is unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise ReservationServiceUnavailable(
                f"the reservation service answered {response.status_code}"
            )
        try:
            return Forwarded(response.status_code, response.json())
        except ValueError as exc:
            raise ReservationServiceUnavailable("the reservation service answered no JSON") from exc


def _error_of(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except ValueError:
        return {}
    return error if isinstance(error, dict) else {}


def priced(body: dict[str, Any]) -> PricedReservation:
    """A reservation as checkout sells it: the reservation service's amount, never the client's."""
    starts = datetime.fromisoformat(str(body["starts_at"])).astimezone(UTC)
    return PricedReservation(
        id=str(body["id"]),
        name=f"{body['service_name']} session, {starts:%Y-%m-%d %H:%M} UTC",
        amount=int(body["amount"]),
        currency=str(body["currency"]).lower(),
        hold_expires_at=datetime.fromisoformat(str(body["hold_expires_at"])),
    )
