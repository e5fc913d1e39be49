"""Prometheus counters of the notifier, by template, the handler's observer that feeds them, and a
dead-letter writer that counts."""

from __future__ import annotations

import json

from prometheus_client import Counter

from backbone.kafka import DeadLetterWriter, Message
from notifier.domain.compose import TEMPLATES, template_for

NOTIFICATIONS = Counter(
    "notifier_notifications_total",
    "E-mails by template and outcome: sent; failed (refused for good, not retried); retried"
    " (a send attempt failed and the fact was raised for another try); dead_lettered;"
    " duplicate (redelivered fact already sent or failed: nothing done).",
    ["template", "outcome"],
)
FACTS_IGNORED = Counter(
    "notifier_facts_ignored_total",
    "Facts of a type this notifier does not know (acknowledged, logged, no e-mail).",
    ["event_type"],
)
OUTCOMES = ("sent", "failed", "retried", "dead_lettered", "duplicate")
UNKNOWN_TEMPLATE = "unknown"

# Every series exists from the start, so dashboards and alerts see zeros rather than gaps.
for _template in (*TEMPLATES, UNKNOWN_TEMPLATE):
    for _outcome in OUTCOMES:
        NOTIFICATIONS.labels(_template, _outcome)


def template_of(message: Message) -> str:
    """The template a raw fact would use, best effort (malformed facts are `unknown`)."""
    try:
        event_type = json.loads(message.value or b"").get("event_type")
    except (ValueError, AttributeError):
        return UNKNOWN_TEMPLATE
    return template_for(event_type) or UNKNOWN_TEMPLATE


class PrometheusObserver:
    """The handler's observer port (`notifier.service_layer.ports.Observer`) on the counters."""

    def notification(self, template: str, outcome: str) -> None:
        """notifier_notifications_total{template, outcome} + 1."""
        NOTIFICATIONS.labels(template, outcome).inc()

    def fact_ignored(self, event_type: str) -> None:
        """notifier_facts_ignored_total{event_type} + 1."""
        FACTS_IGNORED.labels(event_type).inc()


class CountingDeadLetterWriter(DeadLetterWriter):
    """The shared dead-letter writer, plus notifier_notifications_total{outcome=dead_lettered}."""

    async def write(self, message: Message, error: BaseException, attempts: int) -> None:
        """Dead-letter `message` (awaiting the broker's ack), then count it."""
        await super().write(message, error, attempts)
        NOTIFICATIONS.labels(template_of(message), "dead_lettered").inc()
