"""Request dependencies of the API routes: the service objects, API key check, parameters."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from stripe_emulator.errors import StripeError
from stripe_emulator.params import Params, decode_form, decode_pairs
from stripe_emulator.payments import Payments
from stripe_emulator.webhooks import Dispatcher

_KEY_PREFIXES = ("sk_test_", "rk_test_")


def get_payments(request: Request) -> Payments:
    """The service layer built by create_app."""
    payments: Payments = request.app.state.payments
    return payments


def get_dispatcher(request: Request) -> Dispatcher:
    """The webhook dispatcher built by create_app."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


PaymentsDep = Annotated[Payments, Depends(get_payments)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def _api_key(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":  # curl -u sk_test_...:
        try:
            return base64.b64decode(value).decode().partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


async def check_api_key(request: Request) -> None:
    """Any test-mode secret key is accepted; none, or another kind, is a 401 as on Stripe."""
    key = _api_key(request)
    if key is None:
        raise StripeError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
            status=401,
        )
    if not key.startswith(_KEY_PREFIXES):
        raise StripeError(f"Invalid API Key provided: {key[:8]}****{key[-4:]}", status=401)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.removeprefix("::ffff:")).is_loopback
    except ValueError:
        return False


async def local_control_only(request: Request) -> None:
    """The control API answers loopback clients only, unless allowed remotely (a 404 as if absent).

    It can forge payments, refunds and webhook settings, so a bound-to-all-interfaces emulator
    must not offer it to the network by default.
    """
    if request.app.state.settings.control_allow_remote:
        return
    host = request.client.host if request.client else None
    if host is None or not _is_loopback(host):
        raise HTTPException(status_code=404)


async def form_params(request: Request) -> Params:
    """The form-encoded body of a POST."""
    return decode_form(await request.body())


async def query_params(request: Request) -> Params:
    """The query string of a GET, nested like a form."""
    return decode_pairs(request.query_params.multi_items())


FormParams = Annotated[Params, Depends(form_params)]
QueryParams = Annotated[Params, Depends(query_params)]
