"""The ``civicwall`` command line.

Subcommands that belong to a feature live in that feature's module, which exposes
``add_arguments(parser)`` and ``main(args, settings) -> int``; this file only wires them up.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading

from .errors import CivicwallError
from .logs import configure_logging
from .settings import Settings

HERE = "dashboard.cli"   # not __name__: that is "__main__" under `python -m dashboard.cli`
COMMANDS = {
    "run": ("dashboard.runner", "start Redis (embedded unless REDIS_URL is set), aggregator, demo feed and the wall"),
    "aggregate": (HERE, "consume the event stream and keep the shared state and snapshot up to date"),
    "import": ("dashboard.imports.command", "load a history from any export (CSV, Excel, JSON) through a mapping file"),
    "open311": ("dashboard.imports.open311", "poll an Open311 GeoReport v2 endpoint and emit what changed as events"),
    "replay": ("dashboard.feeds.replay", "play an export back as a live stream (NYC 311 files, or any file with --mapping)"),
    "simulate": ("dashboard.feeds.simulate", "produce a realistic live day of appeals for a profile"),
    "snapshot": (HERE, "print the current snapshot (every figure on the wall) as JSON"),
    "clock": (HERE, "show the wall's clock, or reset it to real time (--live)"),
    "briefing": ("dashboard.briefings", "make the daily briefing (HTML and PDF) for a day, or every day on a schedule"),
    "profile": ("dashboard.imports.starter", "write a starter profile from an export (new), or check how districts join (check)"),
    "user": ("dashboard.users", "add, remove or list the users who may sign in to the manager page"),
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="profile name or .toml path (env CIVICWALL_PROFILE, default jiaozuo)")
    parser.add_argument("--redis-url", help="Redis URL (env REDIS_URL)")
    parser.add_argument("--stream", help="stream key (env CIVICWALL_STREAM, default cw:{<city>}:events)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="civicwall", description="Real-time operations wall for citizen appeals.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p)
        if module == HERE:
            globals()[f"_args_{name}"](p)
        else:
            importlib.import_module(module).add_arguments(p)
    return parser


def _args_aggregate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--consumer", help="consumer name in the group (default host-pid)")
    p.add_argument("--until-idle", action="store_true", help="process what is in the stream, then exit")


def _args_snapshot(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rebuild", action="store_true", help="compute it now from the aggregates instead of reading it")


def _args_clock(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--live", action="store_true", help="return the wall to real time after a replay")
    group.add_argument("--at", metavar="TIME",
                       help="stop the clock at TIME (ISO 8601, e.g. 2024-05-27T08:30; without an offset in the "
                            "profile's time zone) to look at replayed data as of then; --live undoes it")


def _context(args, settings: Settings):
    from .keys import Keys
    from .profiles import load_profile
    from .store import connect

    profile = load_profile(settings.profile)
    client = connect(settings.redis_url, socket_timeout=settings.socket_timeout_s)
    return profile, client, Keys(profile.city, settings.stream)


def _main_aggregate(args, settings: Settings) -> int:
    from .aggregator import Aggregator

    profile, client, _ = _context(args, settings)
    agg = Aggregator(client, profile, settings, consumer=args.consumer)
    if args.until_idle:
        print(f"processed {agg.run_until_idle()} entries")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    agg.run(stop)
    return 0


def _main_snapshot(args, settings: Settings) -> int:
    from . import snapshot

    profile, client, keys = _context(args, settings)
    if args.rebuild:
        print(json.dumps(snapshot.build(client, keys, profile), ensure_ascii=False, indent=2))
    else:
        print(json.dumps(json.loads(snapshot.read_raw(client, keys)), ensure_ascii=False, indent=2))
    return 0


def _main_clock(args, settings: Settings) -> int:
    from . import clock

    profile, client, keys = _context(args, settings)
    from datetime import datetime

    if args.live:
        clock.set_live(client, keys)
    elif args.at:
        try:
            moment = datetime.fromisoformat(args.at)
        except ValueError:
            print(f"civicwall clock: --at {args.at!r} is not an ISO 8601 time such as 2024-05-27T08:30",
                  file=sys.stderr)
            return 2
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=profile.tz)
        clock.set_replay(client, keys, moment.timestamp(), speed=0)
    ts, mode = clock.now(client, keys)

    print(f"{mode} {datetime.fromtimestamp(ts, profile.tz).isoformat(timespec='seconds')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        settings = Settings.from_env(profile=args.profile, redis_url=args.redis_url, stream=args.stream)
        module, _ = COMMANDS[args.command]
        if module == HERE:
            return globals()[f"_main_{args.command}"](args, settings)
        return importlib.import_module(module).main(args, settings)
    except CivicwallError as exc:
        print(f"civicwall {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`civicwall snapshot | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
