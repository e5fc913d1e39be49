"""`python -m checkout api|relay|migrate`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the process named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m checkout", description=__doc__)
    parser.add_argument("command", choices=("api", "relay", "migrate"))
    args = parser.parse_args(argv)
    if args.command == "api":
        from checkout.entrypoints import serve

        return serve.main()
    if args.command == "relay":
        from checkout.entrypoints import relay

        return relay.main()
    from checkout.entrypoints import migrate

    return migrate.main()


if __name__ == "__main__":
    sys.exit(main())
