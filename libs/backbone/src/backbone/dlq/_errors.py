"""Failures the `dlq` command reports to the operator as one clear line and an exit code."""

from __future__ import annotations

# Exit codes: 2 for input the operator can correct, 1 for a broker that failed us.
BAD_INPUT = 2
BROKER_FAILED = 1


class DlqError(Exception):
    """An error with a message meant for the operator, and the exit code to leave with."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class BrokerError(DlqError):
    """The broker could not be reached or did not answer in time."""

    def __init__(self, message: str) -> None:
        super().__init__(message, BROKER_FAILED)
