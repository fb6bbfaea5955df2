"""`python -m poller.sandbox`: serve both simulators; the first stdout line is JSON."""

from __future__ import annotations

import argparse

from .runner import serve_forever


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m poller.sandbox", description=__doc__)
    parser.add_argument("--pinpoint-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--hibob-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hires", type=int, default=12)
    parser.add_argument("--lag-seconds", type=float, default=0.0, help="HiBob read-after-write lag")
    parser.add_argument("--text", action="store_true", help="a readable banner instead of JSON")
    args = parser.parse_args(argv)
    serve_forever(
        args.pinpoint_port,
        args.hibob_port,
        args.seed,
        args.hires,
        lag_seconds=args.lag_seconds,
        output="text" if args.text else "json",
    )
    return 0  # SIGINT and SIGTERM are handled: a clean stop exits 0, not 130


if __name__ == "__main__":
    raise SystemExit(main())
