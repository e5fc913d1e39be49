"""Where checkout sends the receipt: the token's claim; a typed address only in development."""

from __future__ import annotations

import pytest

from backbone.auth import Principal
from checkout.domain.model import OrderError
from checkout.entrypoints.deps import Caller


def test_production_takes_only_the_tokens_email() -> None:
    caller = Caller(Principal("u1", None), "token")
    assert caller.email("typed@example.com", production=False) == "typed@example.com"
    with pytest.raises(OrderError) as refused:
        caller.email("typed@example.com", production=True)
    assert (refused.value.code, refused.value.field) == ("email_not_accepted", "email")
    claimed = Caller(Principal("u2", "u2@example.com"), "token")
    assert claimed.email(None, production=True) == "u2@example.com"
