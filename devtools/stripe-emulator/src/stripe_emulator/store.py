"""The emulator's in-memory state: objects, events, idempotency records and injected faults."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stripe_emulator.errors import StripeError, missing
from stripe_emulator.objects import Obj, list_object
from stripe_emulator.params import Params, get_int, get_str

_KINDS = {
    "cs_": ("checkout session", "sessions"),
    "pi_": ("payment_intent", "intents"),
    "ch_": ("charge", "charges"),
    "py_": ("charge", "charges"),  # charges of delayed (bank) methods
    "re_": ("refund", "refunds"),
    "dp_": ("dispute", "disputes"),
    "evt_": ("event", "events"),
}


@dataclass
class IdempotencyRecord:
    """What one Idempotency-Key was first used for, and what it answered."""

    fingerprint: tuple[str, str, str]
    status: int
    body: Obj


@dataclass(frozen=True)
class Fault:
    """What one faulted API call gets: an error status (or none), a held answer, when to fail."""

    api_status: int | None
    delay_seconds: float
    after_execute: bool


@dataclass
class Faults:
    """Failures to inject into the next matching API calls (POST /_emulator/faults)."""

    api_status: int | None = 500
    remaining: int | None = 0  # None: every matching call until cleared
    delay_seconds: float = 0.0
    path_prefix: str | None = None
    after_execute: bool = False

    def take(self, path: str) -> Fault | None:
        """The fault for a call to `path`, counting it, or None when no fault applies."""
        if self.remaining is not None and self.remaining <= 0:
            return None
        if not path.startswith(self.path_prefix or "/v1"):
            return None
        if self.remaining is not None:
            self.remaining -= 1
        return Fault(self.api_status, self.delay_seconds, self.after_execute)

    def describe(self) -> dict[str, Any]:
        """The fault as the control API shows it; count is what is left (null: until cleared)."""
        return {
            "api_status": self.api_status,
            "count": self.remaining,
            "delay_seconds": self.delay_seconds,
            "path_prefix": self.path_prefix,
            "after_execute": self.after_execute,
        }


@dataclass
class Store:
    """Process-local state; every access happens on the event loop, so no locks."""

    sessions: dict[str, Obj] = field(default_factory=dict)
    line_items: dict[str, list[Obj]] = field(default_factory=dict)
    intents: dict[str, Obj] = field(default_factory=dict)
    charges: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    disputes: dict[str, Obj] = field(default_factory=dict)
    # how many next API refunds start `pending` (None: every one until changed)
    refunds_pending: int | None = 0
    events: dict[str, Obj] = field(default_factory=dict)
    idempotency: dict[str, IdempotencyRecord] = field(default_factory=dict)
    # keys of requests still being handled: a concurrent request with one gets a 409
    keys_in_use: set[str] = field(default_factory=set)
    faults: Faults = field(default_factory=Faults)

    def reset(self) -> None:
        """Forget everything."""
        for table in (self.sessions, self.line_items, self.intents, self.charges):
            table.clear()
        self.refunds.clear()
        self.disputes.clear()
        self.refunds_pending = 0
        self.events.clear()
        self.idempotency.clear()
        self.keys_in_use.clear()
        self.faults = Faults()

    def table_of(self, object_id: str) -> tuple[str, dict[str, Obj]]:
        """The kind name and table that hold an id, by its prefix."""
        for prefix, (kind, attr) in _KINDS.items():
            if object_id.startswith(prefix):
                return kind, getattr(self, attr)
        raise missing("object", object_id)

    def get(self, object_id: str, param: str = "id") -> Obj:
        """The stored object with this id, or Stripe's 404."""
        kind, table = self.table_of(object_id)
        found = table.get(object_id)
        if found is None:
            raise missing(kind, object_id, param)
        return found

    def add(self, obj: Obj) -> Obj:
        """Store a new object under its id."""
        _, table = self.table_of(str(obj["id"]))
        table[obj["id"]] = obj
        return obj

    def render(self, obj: Obj, expand: Iterable[str] = ()) -> Obj:
        """A copy of an object for a response, with the requested ids expanded."""
        out = {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}
        for path in expand:
            self._expand(out, path.split("."), path)
        return out

    def _expand(self, node: Obj, parts: list[str], path: str) -> None:
        head, rest = parts[0], parts[1:]
        if head == "line_items" and node.get("object") == "checkout.session":
            items = copy.deepcopy(self.line_items.get(node["id"], []))
            node["line_items"] = list_object(
                f"/v1/checkout/sessions/{node['id']}/line_items", items
            )
            return
        value = node.get(head)
        if isinstance(value, str):
            try:
                value = copy.deepcopy(self.get(value))
            except StripeError:
                raise StripeError(f"This property cannot be expanded ({path}).") from None
            node[head] = value
        elif head not in node:
            raise StripeError(f"This property cannot be expanded ({path}).", param="expand")
        if rest and isinstance(value, dict):
            self._expand(value, rest, path)


def created_filter(params: Params) -> Callable[[Obj], bool]:
    """Stripe's `created` filter: an exact value or a hash of gt/gte/lt/lte."""
    raw = params.get("created")
    if raw is None:
        return lambda _: True
    if isinstance(raw, str):
        exact = get_int(params, "created")
        return lambda obj: obj["created"] == exact
    bounds = {op: get_int(raw, op, param=f"created[{op}]") for op in ("gt", "gte", "lt", "lte")}
    for op in raw:
        if op not in bounds:
            raise StripeError(
                f"Received unknown parameter: created[{op}]",
                param=f"created[{op}]",
                code="parameter_unknown",
            )

    def keep(obj: Obj) -> bool:
        c = int(obj["created"])
        return (
            (bounds["gt"] is None or c > bounds["gt"])
            and (bounds["gte"] is None or c >= bounds["gte"])
            and (bounds["lt"] is None or c < bounds["lt"])
            and (bounds["lte"] is None or c <= bounds["lte"])
        )

    return keep


def paginate(
    url: str, items: Iterable[Obj], params: Params, keep: Callable[[Obj], bool], store: Store
) -> Obj:
    """Newest first, with limit, starting_after and ending_before, as Stripe lists."""
    limit = get_int(params, "limit")
    limit = 10 if limit is None else limit
    if not 1 <= limit <= 100:
        raise StripeError(
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            param="limit",
            code="parameter_invalid_integer",
        )
    ordered = [obj for obj in reversed(list(items)) if keep(obj)]
    after = get_str(params, "starting_after")
    before = get_str(params, "ending_before")
    if after and before:
        raise StripeError(
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameters_exclusive",
        )
    if after or before:
        cursor = after or before
        ids = [obj["id"] for obj in ordered]
        if cursor not in ids:
            store.get(str(cursor), "starting_after" if after else "ending_before")
            index = len(ids) if after else 0  # filtered out: nothing past it
        else:
            index = ids.index(cursor)
        if after:
            window = ordered[index + 1 :]
            page, has_more = window[:limit], len(window) > limit
        else:
            window = ordered[:index]
            page, has_more = window[-limit:], len(window) > limit
    else:
        page, has_more = ordered[:limit], len(ordered) > limit
    expand = [e for e in params.get("expand", []) if isinstance(e, str)]
    data = [store.render(obj, [e.removeprefix("data.") for e in expand]) for obj in page]
    return list_object(url, data, has_more)


def same_params(params: Any) -> str:
    """A stable text of the params, to tell a replay from a different request."""
    return json.dumps(params, sort_keys=True)
