"""Decode Stripe's form encoding (a[b][0][c]=v) into nested dicts and lists, and read values."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from stripe_emulator.errors import StripeError

Params = dict[str, Any]


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head]
    while rest:
        inner, _, rest = rest.partition("]")
        parts.append(inner)
        rest = rest[1:] if rest.startswith("[") else ""
    return parts


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def decode_pairs(pairs: list[tuple[str, str]]) -> Params:
    """Nest flat pairs: line_items[0][quantity]=1 gives {"line_items": [{"quantity": "1"}]}."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = root
        for depth, part in enumerate(parts):
            name = part
            if name == "":  # a[]=x appends
                name = str(sum(1 for k in node if k.isdigit()))
            if depth == len(parts) - 1:
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise StripeError(f"Invalid value for {parts[0]}.", param=key)
                node = child
    result = _listify(root)
    assert isinstance(result, dict)
    return result


def decode_form(body: bytes) -> Params:
    """Decode an application/x-www-form-urlencoded body."""
    return decode_pairs(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def get_str(params: Params, key: str, *, param: str | None = None) -> str | None:
    """A string parameter, or None when absent or empty."""
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise StripeError(f"Invalid string: {value!r}", param=param or key)
    return value


def get_int(params: Params, key: str, *, param: str | None = None) -> int | None:
    """An integer parameter, or None when absent."""
    value = get_str(params, key, param=param)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise StripeError(
            f"Invalid integer: {value}", param=param or key, code="parameter_invalid_integer"
        ) from None


def missing_param(param: str) -> StripeError:
    """Stripe's answer when a required parameter is absent."""
    return StripeError(f"Missing required param: {param}.", param=param, code="parameter_missing")


def require_str(params: Params, key: str, *, param: str | None = None) -> str:
    """A required string: absent is parameter_missing, empty is parameter_invalid_empty."""
    where = param or key
    if params.get(key) == "":
        raise StripeError(
            f"You passed an empty string for '{where}'. We assume empty values are an attempt to "
            f"unset a parameter; however '{where}' cannot be unset. You should remove '{where}' "
            "from your request or supply a non-empty value.",
            param=where,
            code="parameter_invalid_empty",
        )
    value = get_str(params, key, param=param)
    if value is None:
        raise missing_param(where)
    return value


def get_dict(params: Params, key: str, *, param: str | None = None) -> Params:
    """A hash parameter ({} when absent or sent as an empty string to clear it)."""
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError(f"Invalid object: {key} must be a hash.", param=param or key)
    return value


def get_list(params: Params, key: str, *, param: str | None = None) -> list[Any]:
    """An array parameter ([] when absent)."""
    value = params.get(key)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise StripeError(f"Invalid array: {key} must be an array.", param=param or key)
    return value


def reject_unknown(params: Params, allowed: frozenset[str]) -> None:
    """Stripe refuses parameters it does not know; so do we."""
    for key in params:
        if key not in allowed:
            raise StripeError(
                f"Received unknown parameter: {key}", param=key, code="parameter_unknown"
            )


def validate_metadata(metadata: Params, param: str = "metadata") -> dict[str, str]:
    """Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500."""
    if len(metadata) > 50:
        raise StripeError("Metadata can have up to 50 keys.", param=param)
    clean: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise StripeError(f"Invalid metadata value for key {key}.", param=f"{param}[{key}]")
        if len(key) > 40:
            raise StripeError(
                f"Metadata keys can have up to 40 characters, but you passed in a key that is "
                f"{len(key)} characters. Invalid key: {key}",
                param=f"{param}[{key}]",
            )
        if len(value) > 500:
            raise StripeError(
                f"Metadata values can have up to 500 characters, but you passed in a value that "
                f"is {len(value)} characters. Invalid value: {value}",
                param=f"{param}[{key}]",
            )
        if value != "":
            clean[key] = value
    return clean
