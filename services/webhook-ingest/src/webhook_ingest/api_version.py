"""Checks a verified event's api_version against the versions our consumers understand.

Stripe renders an event's object in the API version of the endpoint (or the account's default),
so an endpoint upgraded in the Dashboard changes the shape our consumers read without any deploy
of ours. Such an event is still published: refusing it would only make Stripe retry it for three
days, and the consumers ignore fields they do not know. It is counted and logged, so an operator
sees the drift (an alert on the counter) before a renamed field breaks a consumer.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from backbone.logging import get_logger
from webhook_ingest import metrics

log = get_logger(__name__)

# A metric label must stay bounded: only values shaped like Stripe's versions become labels.
_VERSION_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]{1,32})?")


def check_api_version(
    api_version: str | None, understood: Collection[str], *, event_id: str
) -> bool:
    """True when `api_version` is understood; else count and log the mismatch."""
    if api_version is not None and api_version in understood:
        return True
    if api_version is None:
        label = "none"
    else:
        label = api_version if _VERSION_SHAPE.fullmatch(api_version) else "other"
    metrics.API_VERSION_MISMATCH.labels(label).inc()
    log.warning(
        "webhook.api_version_mismatch",
        api_version=label,
        understood=sorted(understood),
        event_id=event_id,
    )
    return False
