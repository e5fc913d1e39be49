"""Array parameters on real PostgreSQL: what the engine's array dumper writes comes back as it was.

The fast paths (`backbone.db._arrays.TextArrayDumper`) quote and escape every element at once;
each case here goes through the engine the services use and is read back from the server, and
the lists the fast paths leave to psycopg are checked to come back too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg.adapt import PyFormat
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db import make_engine
from backbone.db._arrays import TextArrayDumper
from backbone.settings import DatabaseSettings

pytestmark = pytest.mark.integration

AWKWARD = [
    "",
    "NULL",
    "null",
    " spaced ",
    "a,b",
    "{braces}",
    '"quoted"',
    "back\\slash",
    '\\"both\\"',
    "tab\tnew\nline",
    "\u3000ideographic space",
    "caf\u00e9 \U0001f600",
    json.dumps({"payload": 'with "quotes" and \\ backslashes', "n": [1, 2]}),
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
    yield engine
    await engine.dispose()


async def _round_trip(engine: AsyncEngine, sql_type: str, values: list[Any]) -> list[Any]:
    async with engine.connect() as conn:
        result = await conn.execute(
            text(f"SELECT CAST(:values AS {sql_type}[])"), {"values": values}
        )
        back: list[Any] = result.scalar_one()
        return back


@pytest.mark.parametrize(
    "values",
    [
        AWKWARD,
        ["one"],
        [f"evt_{n:024d}" for n in range(500)],
        [json.dumps({"n": n, "text": f'"{n}"'}) for n in range(200)],
    ],
    ids=["awkward", "one", "many-ids", "json-payloads"],
)
@pytest.mark.parametrize("sql_type", ["text", "varchar"])
async def test_a_list_of_strings_comes_back_as_it_was(
    engine: AsyncEngine, sql_type: str, values: list[str]
) -> None:
    assert await _round_trip(engine, sql_type, values) == values


@pytest.mark.parametrize(
    "values",
    [
        [b"", b"\x00\xff", b'{"a": "b"}', b"\\x00", b"NULL", bytes(range(256))],
        [b"key", None, b"", None],
        [None, b"k"],
    ],
    ids=["awkward", "with-nulls", "null-first"],
)
async def test_a_list_of_bytes_comes_back_as_it_was(
    engine: AsyncEngine, values: list[bytes | None]
) -> None:
    assert await _round_trip(engine, "bytea", values) == values


@pytest.mark.parametrize(
    ("sql_type", "values"),
    [
        ("text", []),
        ("text", ["a", None, "b"]),
        ("text", [None]),
        ("bigint", [1, -2, 3_000_000_000]),
        ("text", [["a", "b"], ["c", "d"]]),
    ],
    ids=["empty", "strings-with-null", "only-null", "integers", "nested"],
)
async def test_lists_left_to_psycopg_come_back_as_they_were(
    engine: AsyncEngine, sql_type: str, values: list[Any]
) -> None:
    assert await _round_trip(engine, sql_type, values) == values


async def test_a_string_holding_nul_is_refused_as_before(engine: AsyncEngine) -> None:
    """Left to psycopg (the fast path cannot tell its NUL from a separator), which refuses it:
    PostgreSQL text cannot hold NUL."""
    with pytest.raises(DBAPIError, match=r"cannot contain NUL \(0x00\)"):
        await _round_trip(engine, "text", ["a\x00b", "c"])


async def test_the_engine_writes_lists_with_the_fast_dumper(engine: AsyncEngine) -> None:
    """The cases above go through `TextArrayDumper`: every connection of the engine has it."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        adapters = raw.driver_connection.adapters  # type: ignore[union-attr]
        assert adapters.get_dumper(list, PyFormat.AUTO) is TextArrayDumper
