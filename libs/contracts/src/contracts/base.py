"""The base of every contract model, and field types that keep money and time unambiguous."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from pydantic.config import JsonDict

# Strict so a float (or a bool) never slips in as money: amounts are integer minor units (cents).
MinorUnits = Annotated[int, Strict(), Field(ge=0)]


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# Stripe spells currencies as lower-case ISO 4217 codes; we write them so and read "USD" as "usd".
Currency = Annotated[str, BeforeValidator(_lower), StringConstraints(pattern=r"^[a-z]{3}$")]

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]

# A timestamp without a zone is ambiguous across services, so only aware datetimes are accepted.
Timestamp = AwareDatetime


def _require_event_type(schema: JsonDict) -> None:
    # event_type has a default so producers need not repeat it, but on the wire it is the
    # discriminator: the exported schema must demand it.
    properties = schema.get("properties")
    if isinstance(properties, dict) and "event_type" in properties:
        required = schema.setdefault("required", [])
        if isinstance(required, list) and "event_type" not in required:
            required.insert(0, "event_type")


class Contract(BaseModel):
    """A message that crosses a process boundary: frozen, tolerant of fields it does not know.

    Readers ignore unknown fields so a producer can add one without breaking older consumers; a
    breaking change is a new ...V2 model published beside the old one instead.
    """

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        json_schema_extra=_require_event_type,
    )
