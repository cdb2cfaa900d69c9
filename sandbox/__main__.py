"""python -m sandbox [--port N] [--latency zero|aws] [--throttle P] [--iam-propagation-delay S] [--mapping-transition S] ...

The local AWS endpoint. It runs the code it is sent: it listens on loopback only unless told otherwise.
Admin endpoints: /_sandbox/config (GET/POST the knobs), /_sandbox/reset, /_sandbox/stats, /_sandbox/health,
/_sandbox/lambda/next-state (make the next CreateFunction / update end Failed or stay Pending).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from . import DEFAULT_HOST, DEFAULT_PORT
from .config import PROFILES, TIMING_KNOBS, SandboxConfig


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--throttle", type=float, default=0.0, metavar="P",
                        help="answer a fraction P (0..1) of calls with the service's throttling error")
    parser.add_argument("--iam-propagation-delay", type=float, default=None, metavar="S",
                        help="Lambda cannot assume a role for S seconds after it or its policies change")
    parser.add_argument("--mapping-transition", type=float, default=None, metavar="S",
                        help="each event source mapping state transition takes S seconds")
    parser.add_argument("--poller-start-delay", type=float, default=None, metavar="S",
                        help="a LATEST mapping begins polling S seconds after creation")
    parser.add_argument("--seed", type=int, default=None, help="seed for the throttling draw")
    parser.add_argument("--latency", choices=sorted(PROFILES), default="zero",
                        help="latency profile: zero (nothing waits, the default) or aws (how long AWS takes, each "
                             "figure sourced in docs/latency.md); timing knobs given explicitly win over it")
    # Lambda execution environments (sandbox/lambda_runtime.py).
    parser.add_argument("--environment-idle-timeout", type=float, default=SandboxConfig.environment_idle_timeout,
                        metavar="S", help="reap a Lambda execution environment idle for S seconds (0: never reuse "
                                          "one; default %(default)s)")
    streams_and_iam = parser.add_argument_group("streams and IAM")
    streams_and_iam.add_argument("--stream-shards", type=int, default=1, metavar="N",
                                 help="shards per new DynamoDB stream (default 1)")
    streams_and_iam.add_argument("--shard-rollover-seconds", type=float, default=0.0, metavar="S",
                                 help="close a shard and open its child after S seconds (0: never)")
    streams_and_iam.add_argument("--shard-rollover-records", type=int, default=0, metavar="N",
                                 help="close a shard and open its child after N records (0: never)")
    streams_and_iam.add_argument("--no-iam-evaluation", dest="iam_evaluation", action="store_false",
                                 help="do not evaluate execution roles' policies (allow everything)")
    # The transitions AWS shows and callers must wait for (0: the write's answer says UPDATING / Pending /
    # InProgress where AWS's does, and the next read says ACTIVE / Active / Successful).
    transitions = parser.add_argument_group("transitions")
    transitions.add_argument("--table-transition", type=float, default=None, metavar="S",
                             help="a table stays UPDATING for S seconds after UpdateTable; another UpdateTable "
                                  "meanwhile gets ResourceInUseException")
    transitions.add_argument("--stream-transition", type=float, default=None, metavar="S",
                             help="a stream stays ENABLING / DISABLING (and its table UPDATING) for S seconds")
    transitions.add_argument("--function-transition", type=float, default=None, metavar="S",
                             help="a function stays Pending after CreateFunction and InProgress after an update "
                                  "for S seconds; another update meanwhile gets ResourceConflictException")
    transitions.add_argument("--eni-release-delay", type=float, default=0.0, metavar="S",
                             help="Lambda deletes a VPC function's network interfaces S seconds after no function "
                                  "uses them (AWS: up to 20 minutes)")
    transitions.add_argument("--table-create-transition", type=float, default=None, metavar="S",
                             help="a new table stays CREATING for S seconds after CreateTable")
    # Who may drive the sandbox. It runs the code it is sent, so by default only this machine may, and only
    # under a loopback Host name (a web page cannot use DNS rebinding to reach it) and without CORS headers.
    guard = parser.add_argument_group("access (the sandbox runs the code it is sent)")
    guard.add_argument("--allow-remote-code-execution", action="store_true",
                       help="allow a --host that is not a loopback address; anyone who can reach the port can then "
                            "run code on this machine")
    guard.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="also answer requests whose Host header is NAME (loopback names and the bind address "
                            "are always answered; repeatable)")
    guard.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="send CORS headers to web pages from ORIGIN, e.g. http://localhost:3000, or '*' for "
                            "any (none by default; repeatable)")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The knobs the command line asks for: the latency profile first, then each timing knob given explicitly."""
    config = SandboxConfig()
    explicit = {knob: getattr(args, knob) for knob in TIMING_KNOBS if getattr(args, knob) is not None}
    config.update({"latency": args.latency, "throttle": args.throttle, "seed": args.seed, **explicit})
    config.update({"environment_idle_timeout": args.environment_idle_timeout})
    config.update({"stream_shards": args.stream_shards, "shard_rollover_seconds": args.shard_rollover_seconds,
                   "shard_rollover_records": args.shard_rollover_records,
                   "iam_evaluation": args.iam_evaluation})
    # Not a latency knob: AWS's up to 20 minutes would hold every VPC teardown that long.
    config.update({"eni_release_delay": args.eni_release_delay})
    return config


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))

    from .server import MotoVersionMismatch, RemoteBindRefused, SandboxServer, check_moto_version

    try:
        check_moto_version()
    except MotoVersionMismatch as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        server = SandboxServer(args.host, args.port, config,
                               allow_remote_code_execution=args.allow_remote_code_execution,
                               allowed_hosts=args.allow_host, cors_origins=args.cors_origin)
    except RemoteBindRefused as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        server.start()
    except OSError as exc:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    # The handler only writes a byte to a pipe the main thread blocks on. (Event.set() from a signal handler can
    # deadlock: the handler runs in the main thread, which may hold the Event's lock inside Event.wait().)
    wake_r, wake_w = os.pipe()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: os.write(wake_w, b"x"))
    print(f"sandbox ready on {server.url} in {time.monotonic() - started:.2f}s "
          f"(config: {config.as_dict()})", flush=True)
    os.read(wake_r, 1)
    server.stop()
    try:
        print("sandbox stopped", flush=True)
    except BrokenPipeError:
        pass  # whoever started us stopped reading; the exit status still says it went well
    return 0


if __name__ == "__main__":
    sys.exit(main())
