"""faust-streaming workers on our at-least-once contract: the app factory and the resilient agent.

A service's worker builds its app with `create_faust_app` and registers one `resilient_agent`
with a `BatchHandler`; everything Faust does that we work around, and why, is written down in
`backbone/faust/_app.py` (and docs/adr/0011). `watch_consumer` publishes lag and dead-letter depth.
"""

from backbone.faust._app import (
    DEFAULT_BATCH_MAX_SIZE,
    BackboneApp,
    create_faust_app,
    message_from_faust,
    resilient_agent,
)
from backbone.faust._fetch_wait import FetchWait
from backbone.faust._lost_log import LostLogGuard
from backbone.faust._watch import ConsumerWatch, watch_consumer
from backbone.kafka import BatchHandler

__all__ = [
    "DEFAULT_BATCH_MAX_SIZE",
    "BackboneApp",
    "BatchHandler",
    "ConsumerWatch",
    "FetchWait",
    "LostLogGuard",
    "create_faust_app",
    "message_from_faust",
    "resilient_agent",
    "watch_consumer",
]
