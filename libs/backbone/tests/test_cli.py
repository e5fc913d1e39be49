"""backbone.cli: a command runs the entrypoint module of its name, with the arguments after it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backbone.cli import dispatch, parser

COMMANDS = {"hello": "says hello", "fail": "exits 3"}


@pytest.fixture
def package(tmp_path: Path) -> Iterator[str]:
    """A throwaway package `clitest_pkg` with entrypoints/hello.py and entrypoints/fail.py."""
    root = tmp_path / "clitest_pkg"
    (root / "entrypoints").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "entrypoints" / "__init__.py").write_text("")
    (root / "entrypoints" / "hello.py").write_text("def main(argv):\n    print('hello', *argv)\n")
    (root / "entrypoints" / "fail.py").write_text("def main(argv):\n    return 3\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield "clitest_pkg"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("clitest_pkg")]:
            del sys.modules[name]


def test_a_command_runs_its_module_with_the_rest_of_the_arguments(
    package: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dispatch(package, COMMANDS, ["hello", "--loud", "x"]) == 0
    assert capsys.readouterr().out == "hello --loud x\n"
    assert dispatch(package, COMMANDS, ["fail"]) == 3


def test_help_usage_unknown_and_default(package: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert dispatch(package, COMMANDS, ["--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: python -m {package} <command>" in out
    assert "hello  says hello" in out
    assert dispatch(package, COMMANDS, []) == 2
    assert dispatch(package, COMMANDS, ["nope"]) == 2
    assert "unknown command 'nope'" in capsys.readouterr().err
    assert dispatch(package, COMMANDS, ["--flag"], default="hello") == 0
    assert capsys.readouterr().out == "hello --flag\n"


def test_a_command_without_options_refuses_a_stray_argument() -> None:
    with pytest.raises(SystemExit) as refused:
        parser("pkg", "api", "`python -m pkg api`: serve.\n\nMore.").parse_args(["--nope"])
    assert refused.value.code == 2
