"""`python -m <service> <command> [options]`: the one dispatcher every service's __main__ uses.

A command's name is its module: `python -m reservation api` runs
`reservation.entrypoints.api.main(argv)`, with the arguments after the command. Modules are
imported only when their command runs (each pulls in FastAPI, Faust or Alembic), so `--help` and
a mistyped command answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

Entrypoint = Callable[[list[str]], int | None]


def usage_text(package: str, commands: Mapping[str, str], *, default: str | None = None) -> str:
    """`usage: python -m <package> <command> ...` and one line per command (name, what it runs)."""
    command = "[<command>]" if default else "<command>"
    width = max(len(name) for name in commands) + 2
    lines = [f"usage: python -m {package} {command} [options]", ""]
    for name, summary in commands.items():
        first, *rest = summary.splitlines() or [""]
        lines.append(f"  {name.ljust(width)}{first}")
        lines += [f"  {' ' * width}{more.strip()}" for more in rest]
    if default:
        lines += ["", f"Without a command: {default}."]
    return "\n".join(lines) + "\n"


def entrypoint(package: str, command: str) -> Entrypoint:
    """The `main` of `<package>.entrypoints.<command>` (imported now)."""
    module = importlib.import_module(f"{package}.entrypoints.{command}")
    run: Entrypoint = module.main
    return run


def parser(package: str, command: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of a command (`--help` shows the first paragraph of the module's
    docstring); a command without options still parses, so a stray argument is refused."""
    summary = " ".join((doc or "").strip().split("\n\n")[0].split()) or None
    return argparse.ArgumentParser(prog=f"python -m {package} {command}", description=summary)


def dispatch(
    package: str,
    commands: Mapping[str, str],
    argv: Sequence[str] | None = None,
    *,
    default: str | None = None,
) -> int:
    """Run the command named first in `argv` (sys.argv[1:] when None) and return its exit code.

    `commands` maps each command to the line the usage shows for it. `-h`/`--help` alone prints
    the usage (exit 0); no command runs `default` when there is one, else prints the usage
    (exit 2); an unknown command prints the usage on stderr (exit 2). `<command> --help` is the
    command's own help.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    usage = usage_text(package, commands, default=default)
    if args and args[0] in ("-h", "--help", "help"):
        print(usage)
        return 0
    if not args or args[0].startswith("-"):
        if default is None:
            print(usage, file=sys.stderr)
            return 2
        args = [default, *args]
    command, rest = args[0], args[1:]
    if command not in commands:
        print(f"unknown command {command!r}\n\n{usage}", file=sys.stderr)
        return 2
    return entrypoint(package, command)(rest) or 0
