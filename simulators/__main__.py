"""``python -m simulators``: serve the three simulators until Ctrl-C."""

from __future__ import annotations

import argparse

from simulators.launch import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--scf-port", type=int, default=8101)
    parser.add_argument("--cartegraph-port", type=int, default=8102)
    parser.add_argument("--arcgis-port", type=int, default=8103)
    parser.add_argument("--no-seed", action="store_true", help="no demo issues or requests")
    parser.add_argument(
        "--auto-progress",
        action="store_true",
        help="Cartegraph crews task and close requests on their own",
    )
    parser.add_argument("--scf-token", default="demo-token")
    parser.add_argument("--webhook-url", help="POST resident events here (signed)")
    parser.add_argument("--webhook-secret")
    args = parser.parse_args(argv)
    serve_forever(
        args.host,
        ports=(args.scf_port, args.cartegraph_port, args.arcgis_port),
        seed=not args.no_seed,
        auto_progress=args.auto_progress,
        scf_token=args.scf_token,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )


if __name__ == "__main__":
    main()
