"""`python -m bot.web`: the same as `yibao web`."""

from __future__ import annotations

import argparse
import sys

from bot.web.cli import add_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yibao")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["web", *(sys.argv[1:] if argv is None else argv)])
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
