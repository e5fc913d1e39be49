"""Kafka clients with the guarantees we need: acks=all, bounded waits, retry and dead-letter."""

from backbone.kafka.message import Headers, Message
from backbone.kafka.producer import BrokerUnavailable, OutgoingRecord, Producer

__all__ = ["BrokerUnavailable", "Headers", "Message", "OutgoingRecord", "Producer"]
