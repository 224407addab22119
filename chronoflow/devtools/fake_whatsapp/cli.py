"""``chronoflow fake-whatsapp``: run the fake gateway in the foreground for a walk-through.

Keys default to ChronoFlow's own settings (``WAHA_API_KEY``, ``EVOLUTION_API_KEY``,
``WAHA_WEBHOOK_HMAC_KEY``, ``EVOLUTION_WEBHOOK_SECRET``), so the fake and ChronoFlow started in
the same environment agree without repeating secrets on the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from chronoflow.config import get_settings
from chronoflow.devtools.fake_whatsapp.server import FakeWhatsApp

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


def build_parser(prog: str = "chronoflow fake-whatsapp") -> argparse.ArgumentParser:
    """The command's arguments; exposed so ``chronoflow.cli`` can mount it as a sub-command."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a local fake WAHA + Evolution API server (sessions start WORKING). "
        "Control it under /_fake: messages, requests, webhooks, sessions, fail, disconnect, "
        "connect, status, inbound, reset.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3001, help="port (default 3001, WAHA_BASE_URL's default)")
    parser.add_argument(
        "--api-key",
        default=settings.waha_api_key or None,
        help="key required by both providers (default WAHA_API_KEY)",
    )
    parser.add_argument(
        "--evolution-api-key",
        default=settings.evolution_api_key or None,
        help="a different key for the Evolution routes (default EVOLUTION_API_KEY)",
    )
    parser.add_argument(
        "--webhook-url", default=None, help="where WAHA events go, e.g. http://127.0.0.1:3000/waha/webhooks"
    )
    parser.add_argument(
        "--evolution-webhook-url",
        default=None,
        help="where Evolution events go, e.g. http://127.0.0.1:3000/evolution/webhooks "
        "(default: --webhook-url)",
    )
    parser.add_argument(
        "--hmac-key",
        default=settings.waha_webhook_hmac_key or None,
        help="signs WAHA webhooks (default WAHA_WEBHOOK_HMAC_KEY)",
    )
    parser.add_argument(
        "--evolution-secret",
        default=settings.evolution_webhook_secret or None,
        help="X-Webhook-Secret of Evolution webhooks (default EVOLUTION_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--session",
        action="append",
        dest="sessions",
        metavar="NAME",
        help="a session that exists at start, repeatable (default: default)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM.

    Args:
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The process exit status (0).
    """
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    fake = FakeWhatsApp(
        args.port,
        host=args.host,
        api_key=args.api_key,
        evolution_api_key=args.evolution_api_key,
        webhook_url=args.webhook_url,
        evolution_webhook_url=args.evolution_webhook_url,
        hmac_key=args.hmac_key,
        evolution_secret=args.evolution_secret,
        sessions=tuple(args.sessions or ("default",)),
    )
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    with fake:
        logger.info(
            "WAHA at %s/api, Evolution API at %s/instance, control at %s/_fake", fake.url, fake.url, fake.url
        )
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
            done.wait()
    signal.signal(signal.SIGTERM, previous)
    return 0
