"""The curated packages of backbone: every public name resolves, none is shadowed by a submodule,
their modules are private but for the commands, and importing one module of a package does not
load the rest of it."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

PACKAGES = ["backbone.db", "backbone.dlq", "backbone.faust", "backbone.kafka"]

# The only public modules: commands, run as `python -m backbone.kafka.admin`, `python -m
# backbone.db.requeue` and the `dlq` console script (backbone.dlq.cli:main).
COMMANDS = {
    "backbone.db": {"requeue"},
    "backbone.dlq": {"cli"},
    "backbone.faust": set(),
    "backbone.kafka": {"admin"},
}


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_resolves_and_none_is_a_submodule(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__doc__
    submodules = {info.name for info in pkgutil.iter_modules(package.__path__)}
    for public in package.__all__:
        assert public not in submodules, f"{name}.{public} is also a submodule"
        assert getattr(package, public) is not None
        assert public in dir(package)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_module_is_private_but_the_commands(name: str) -> None:
    package = importlib.import_module(name)
    public = {
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    }
    assert public == COMMANDS[name]


def test_importing_the_engine_loads_neither_alembic_nor_the_relay() -> None:
    probe = (
        "import sys, backbone.db._engine, backbone.kafka._producer;"
        "loaded = [m for m in ('alembic', 'backbone.db._relay', 'backbone.kafka._processor')"
        " if m in sys.modules]; print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
