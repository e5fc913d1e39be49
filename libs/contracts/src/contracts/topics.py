"""The topic registry: each topic, its key, writers and readers, and each group's retry and DLQ."""

from __future__ import annotations

from dataclasses import dataclass, field

STRIPE_EVENTS = "stripe.events"
CHECKOUT_SESSIONS = "checkout.sessions"
RESERVATION_EVENTS = "reservation.events"
DLQ_AUDIT = "dlq.audit"

RESERVATION_GROUP = "reservation"
NOTIFIER_GROUP = "notifier"

RETRY_SUFFIX = ".retry"
DLQ_SUFFIX = ".dlq"


def retry_topic(group: str) -> str:
    """The topic only `group` reads, where operators replay its dead letters."""
    return f"{group}{RETRY_SUFFIX}"


def dlq_topic(group: str) -> str:
    """The topic where `group` writes what it could not process after its retries."""
    return f"{group}{DLQ_SUFFIX}"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: how it is keyed and partitioned, and which services write and read it."""

    name: str
    partitions: int
    key: str
    description: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...] = ()
    value: str = "json"
    # Records an operator may need long after the broker's usual retention (weeks, not days):
    # created with the dead-letter retention of the deployment's configuration.
    long_lived: bool = False


@dataclass(frozen=True)
class ConsumerGroupSpec:
    """A consumer group, the topics it reads, and its own retry and dead-letter topics."""

    name: str
    topics: tuple[str, ...]
    max_attempts: int = 5
    retry: str = field(init=False)
    dlq: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry", retry_topic(self.name))
        object.__setattr__(self, "dlq", dlq_topic(self.name))

    @property
    def subscribed(self) -> tuple[str, ...]:
        """What the group's consumer subscribes to: its topics plus its retry topic."""
        return (*self.topics, self.retry)


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(
            name=STRIPE_EVENTS,
            partitions=6,
            key=(
                "the checkout session id for checkout.session.* events, the payment intent id for"
                " payment_intent.* and charge.* events (the charge id for a charge without one),"
                " else the id of the event's data.object (see contracts.stripe.event_key)"
            ),
            description="Verified Stripe events, the value being the exact bytes Stripe posted.",
            producers=("webhook-ingest", "reservation-reconcile"),
            consumers=(RESERVATION_GROUP,),
            value="stripe-event",
        ),
        TopicSpec(
            name=CHECKOUT_SESSIONS,
            partitions=6,
            key="the Stripe checkout session id",
            description="CheckoutSessionCreatedV1 facts from the checkout service.",
            producers=("checkout",),
            consumers=(RESERVATION_GROUP,),
        ),
        TopicSpec(
            name=RESERVATION_EVENTS,
            partitions=6,
            key="the reservation id (the order id for beats-only facts)",
            description="Reservation facts, published only through the reservation outbox.",
            producers=("reservation",),
            consumers=(NOTIFIER_GROUP,),
        ),
        TopicSpec(
            name=DLQ_AUDIT,
            partitions=1,
            key="the consumer group whose dead letters were replayed",
            description="One record per operator replay of dead letters.",
            producers=("dlq",),
            long_lived=True,
        ),
    )
}

CONSUMER_GROUPS: dict[str, ConsumerGroupSpec] = {
    group.name: group
    for group in (
        ConsumerGroupSpec(name=RESERVATION_GROUP, topics=(STRIPE_EVENTS, CHECKOUT_SESSIONS)),
        ConsumerGroupSpec(name=NOTIFIER_GROUP, topics=(RESERVATION_EVENTS,)),
    )
}


def all_topic_partitions() -> dict[str, int]:
    """Every topic to create at start-up with its partition count, retry and DLQ topics included.

    Retry and dead-letter topics take the widest partition count of what the group reads, so a
    replay keeps the parallelism of the original stream.
    """
    wanted = {name: spec.partitions for name, spec in TOPICS.items()}
    for group in CONSUMER_GROUPS.values():
        width = max(TOPICS[t].partitions for t in group.topics)
        wanted[group.retry] = width
        wanted[group.dlq] = width
    return wanted


def is_long_lived(topic: str) -> bool:
    """Whether `topic` keeps its records with the dead-letter retention: every `<group>.dlq`
    (a dead letter may be replayed weeks later) and registry topics marked long-lived (the audit
    trail of replays). Other topics take the ordinary stream retention."""
    spec = TOPICS.get(topic)
    return topic.endswith(DLQ_SUFFIX) or (spec is not None and spec.long_lived)
