"""The `yibao` command: the assistant in a terminal, the bot's transports, and `assess`."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from rules import PolicyError, load_policies


def _assess(args: argparse.Namespace) -> int:
    from bot.assess import InputError, run_assess

    try:
        policies = load_policies(args.overrides)
        print(run_assess(sys.stdin.read(), policies, dt.date.today(), args.locale))
    except InputError as error:
        print(f"yibao assess: {error}", file=sys.stderr)
        return 2
    except PolicyError as error:
        print(f"yibao assess: POLICY_OVERRIDES: {error}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yibao", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    assess = commands.add_parser("assess", help="assess JSON profiles read from standard input")
    assess.add_argument("--locale", default="en", choices=("en", "zh_Hans", "bo"))
    assess.add_argument(
        "--overrides",
        default=os.environ.get("POLICY_OVERRIDES") or None,
        help="a deployment's policy values (YAML); default $POLICY_OVERRIDES",
    )
    assess.set_defaults(handler=_assess)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
