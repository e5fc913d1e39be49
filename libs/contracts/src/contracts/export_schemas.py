"""Rewrite libs/contracts/schemas/ from the models: `python -m contracts.export_schemas [DIR]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts.registry import schemas

# src/contracts/export_schemas.py -> libs/contracts/schemas
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def render(schema: dict[str, object]) -> str:
    """The committed text of one schema: stable key order, so a diff shows only real changes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(directory: Path = DEFAULT_DIR) -> list[Path]:
    """Write one <Name>.json per schema and delete schemas no model produces any more."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {f"{name}.json": render(schema) for name, schema in schemas().items()}
    for stale in directory.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for filename, text in wanted.items():
        path = directory / filename
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Export into the directory given, or libs/contracts/schemas."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else DEFAULT_DIR
    for path in export(directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
