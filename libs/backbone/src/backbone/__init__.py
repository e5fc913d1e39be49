"""Shared plumbing every service stands on: settings, logging, Kafka, dead-lettering, inbox, outbox."""
