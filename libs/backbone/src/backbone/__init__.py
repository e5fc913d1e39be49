"""Shared plumbing of every service: settings, logging, Kafka, dead-lettering, inbox, outbox."""
