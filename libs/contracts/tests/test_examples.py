"""Every example validates against its model and its committed JSON Schema; schemas never drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from contracts.export_schemas import export, render
from contracts.registry import EMBEDDED_MODELS, TOPIC_CONTRACTS, all_models, schemas
from contracts.reservation import FACT_TYPES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCHEMAS = ROOT / "schemas"


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*/*.json"))


EXAMPLE_IDS = [f"{p.parent.name}/{p.stem}" for p in example_files()]


def _schema_errors(schema_name: str, payload: object) -> list[str]:
    schema = json.loads((SCHEMAS / f"{schema_name}.json").read_text())
    validator = Draft202012Validator(schema)
    return [e.message for e in validator.iter_errors(payload)]


@pytest.mark.parametrize("path", example_files(), ids=EXAMPLE_IDS)
def test_example_validates_against_model_and_schema(path: Path) -> None:
    where = path.parent.name
    raw = path.read_bytes()
    payload = json.loads(raw)
    if where in TOPIC_CONTRACTS:
        contract = TOPIC_CONTRACTS[where]
        parsed = contract.parse(raw)
        assert type(parsed) in contract.models
        assert _schema_errors(contract.schema_name, payload) == []
        schema_name = type(parsed).__name__
    else:
        model = EMBEDDED_MODELS[where]
        parsed = model.model_validate(payload)
        schema_name = model.__name__
    assert _schema_errors(schema_name, payload) == []
    # What our models write must satisfy the schema too, not only what they read.
    dumped = json.loads(parsed.model_dump_json(by_alias=True))
    assert _schema_errors(schema_name, dumped) == []


def test_every_example_location_is_known() -> None:
    known = set(TOPIC_CONTRACTS) | set(EMBEDDED_MODELS)
    locations = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    assert locations <= known, f"example folders without a contract: {locations - known}"


def test_every_model_has_an_example() -> None:
    seen: set[str] = set()
    for path in example_files():
        where, raw = path.parent.name, path.read_bytes()
        if where in TOPIC_CONTRACTS:
            seen.add(type(TOPIC_CONTRACTS[where].parse(raw)).__name__)
        else:
            seen.add(EMBEDDED_MODELS[where].__name__)
    assert set(all_models()) - seen == set()


def test_every_fact_type_has_an_example() -> None:
    types = {json.loads(p.read_text())["event_type"] for p in EXAMPLES.glob("reservation.events/*")}
    assert types == set(FACT_TYPES)


def test_committed_schemas_match_models(tmp_path: Path) -> None:
    generated = schemas()
    committed = {p.stem for p in SCHEMAS.glob("*.json")}
    assert committed == set(generated), "run `python -m contracts.export_schemas`"
    for name, schema in generated.items():
        text = (SCHEMAS / f"{name}.json").read_text(encoding="utf-8")
        assert text == render(schema), (
            f"{name}.json is stale: run `python -m contracts.export_schemas`"
        )
    # The exporter itself writes exactly what is committed.
    for path in export(tmp_path):
        assert path.read_text(encoding="utf-8") == (SCHEMAS / path.name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(schemas()))
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(schemas()[name])
