"""Faust (faust-streaming) on the same at-least-once, retry and dead-letter contract as aiokafka."""

from backbone.faust.agent import message_from_faust, resilient_agent
from backbone.faust.app import create_faust_app

__all__ = ["create_faust_app", "message_from_faust", "resilient_agent"]
