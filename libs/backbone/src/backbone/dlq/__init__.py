"""The operators' `dlq` command: inspect, select and replay dead letters, with an audit trail.

`main` is the console script (`dlq topics|list|show|replay|audit`). A dead letter is read back as
a `DeadLetter` by `DlqReader`; a replay writes `replay_record`s into `<group>.retry` (only the
group that failed reads it) and publishes a `DlqReplayAuditV1` to dlq.audit (`read_trail`).
Failures an operator can act on are `DlqError`s, with the exit code they map to. `parse_time`
reads the times the commands take (`--since`, `--until`; `TIME_HELP` lists the forms), here and
in `backbone.db.requeue`.

Names are imported from their modules on first use, so importing one piece (the errors, the
reader) does not load the console rendering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backbone.exports import lazy_exports

if TYPE_CHECKING:
    from backbone.dlq._audit import AuditTrail, read_trail
    from backbone.dlq._errors import BAD_INPUT, BROKER_FAILED, BrokerError, DlqError
    from backbone.dlq._reader import DeadLetter, DlqReader
    from backbone.dlq._replay import ReplayInterrupted, ReplayStamp, replay_record, send_paced
    from backbone.dlq._selection import TIME_HELP, Coordinate, OffsetRange, Selection, parse_time
    from backbone.dlq.cli import main

# Each public name's module, imported on first use (see the docstring). The modules are private
# but `cli`, a command (the `dlq` console script). No public name may be a submodule's name:
# importing that submodule would set the package attribute to the module.
_MODULES = {
    "_audit": ("AuditTrail", "read_trail"),
    "cli": ("main",),
    "_errors": ("BAD_INPUT", "BROKER_FAILED", "BrokerError", "DlqError"),
    "_reader": ("DeadLetter", "DlqReader"),
    "_replay": ("ReplayInterrupted", "ReplayStamp", "replay_record", "send_paced"),
    "_selection": ("TIME_HELP", "Coordinate", "OffsetRange", "Selection", "parse_time"),
}

__all__ = [
    "BAD_INPUT",
    "BROKER_FAILED",
    "TIME_HELP",
    "AuditTrail",
    "BrokerError",
    "Coordinate",
    "DeadLetter",
    "DlqError",
    "DlqReader",
    "OffsetRange",
    "ReplayInterrupted",
    "ReplayStamp",
    "Selection",
    "main",
    "parse_time",
    "read_trail",
    "replay_record",
    "send_paced",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, __all__)
