"""The ``chronoflow`` command: ``dev`` for a laptop, one role per command for production."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chronoflow.config import Settings
from chronoflow.errors import ConfigError
from chronoflow.logs import configure_logging, mask_url_passwords

if TYPE_CHECKING:
    from chronoflow.devtools.embedded_redis import EmbeddedRedis

log = logging.getLogger("chronoflow")


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> None:
    from chronoflow.store.migrations import upgrade

    upgrade(settings.effective_database_url)
    print(f"database migrated: {mask_url_passwords(settings.effective_database_url)}")


def serve_asgi(app: Any, host: str, port: int) -> None:
    """Serve an ASGI app as ``chronoflow api`` does (``bench/api.py`` serves its peer app with it too)."""
    import uvicorn

    # log_config=None: uvicorn logs through the root handler, which masks URL passwords.
    uvicorn.run(app, host=host, port=port, log_level="warning", log_config=None)


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    from chronoflow.api.app import create_app

    serve_asgi(create_app(settings, settings.redis_url), settings.host, args.port or settings.port)


def cmd_scheduler(settings: Settings, _: argparse.Namespace) -> None:
    from redis import Redis

    from chronoflow.scheduling.heartbeats import worker_alive
    from chronoflow.scheduling.jobs import JobStore
    from chronoflow.scheduling.reconciler import reconcile
    from chronoflow.scheduling.scheduler import ChronoScheduler
    from chronoflow.store.engine import Database
    from chronoflow.worker.abandoned import recover_abandoned_jobs
    from chronoflow.worker.runs import reap_lost_runs

    # The scheduler blocks on Redis for up to a third of its lease: reads must outlast that.
    redis = Redis.from_url(settings.redis_url, socket_timeout=settings.scheduler_lock_ttl_ms / 1000 + 5)
    jobs = JobStore(redis, settings.queue_name)
    db = Database(settings.effective_database_url)
    loop = asyncio.Runner()

    def maintenance() -> None:
        loop.run(recover_abandoned_jobs(db, jobs, lambda name: worker_alive(redis, name)))
        reaped = loop.run(reap_lost_runs(db, lambda name: worker_alive(redis, name)))
        if reaped:
            log.warning("failed %d run(s) of lost workers", reaped)

    # The active scheduler reconciles when it starts leading and whenever Redis loses its data.
    scheduler = ChronoScheduler(redis, jobs, lock_ttl_ms=settings.scheduler_lock_ttl_ms, maintenance=maintenance,
                                reconcile=lambda: loop.run(reconcile(db, jobs)),
                                liveness_grace_s=settings.worker_heartbeat_ttl_s)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scheduler.stop())
    try:
        scheduler.run()
    finally:
        loop.run(db.dispose())
        loop.close()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    from chronoflow.worker.runtime import run_worker

    run_worker(settings, settings.redis_url, settings.effective_database_url, burst=args.burst)


def cmd_reconcile(settings: Settings, _: argparse.Namespace) -> None:
    from redis import Redis

    from chronoflow.scheduling.jobs import JobStore
    from chronoflow.scheduling.reconciler import reconcile
    from chronoflow.store.engine import Database

    async def main() -> None:
        db = Database(settings.effective_database_url)
        try:
            print(await reconcile(db, JobStore(Redis.from_url(settings.redis_url), settings.queue_name)))
        finally:
            await db.dispose()

    asyncio.run(main())


def cmd_dev(settings: Settings, args: argparse.Namespace) -> None:
    """api + scheduler + worker as child processes, with embedded Redis and SQLite unless configured.

    A child that exits is restarted (see :mod:`chronoflow.devtools.supervisor`); an embedded Redis
    comes back empty on the same port, and the scheduler rebuilds its jobs from the database.
    """
    from chronoflow.devtools.embedded_redis import EmbeddedRedis, die_with_parent
    from chronoflow.devtools.supervisor import Supervisor
    from chronoflow.store.migrations import upgrade

    # SIGTERM (a service manager, `kill`) stops everything as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    home = settings.home.resolve()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = dict(os.environ, CHRONOFLOW_HOME=str(home), PYTHONUNBUFFERED="1")
    supervisor = Supervisor()
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(home / "redis")
        env["REDIS_URL"] = embedded.url
    if not settings.api_tokens:
        env["CHRONOFLOW_API_TOKENS"] = _local_secret(home / "api-token")
    # Webhook routes stay closed without their secrets: generate local ones, as for the token.
    webhook_secrets: dict[str, str] = {}
    for variable, given in (("WAHA_WEBHOOK_HMAC_KEY", settings.waha_webhook_hmac_key),
                            ("EVOLUTION_WEBHOOK_SECRET", settings.evolution_webhook_secret)):
        if not given:
            env[variable] = webhook_secrets[variable] = _local_secret(home / variable.lower().replace("_", "-"))
    port = args.port or settings.port
    env["PORT"] = str(port)

    def role_process(role: str) -> Callable[[], subprocess.Popen[bytes]]:
        return lambda: subprocess.Popen([sys.executable, "-m", "chronoflow", role], env=env,
                                        preexec_fn=die_with_parent)

    try:
        if embedded is not None:
            supervisor.add("embedded Redis", _embedded_redis_process(embedded))
        upgrade(settings.effective_database_url)
        for role in ("api", "scheduler", "worker"):
            supervisor.add(role, role_process(role))
        url = f"http://{settings.host}:{port}"
        token = env["CHRONOFLOW_API_TOKENS"].split(",")[0]
        print(
            f"\nChronoFlow is running at {url}\n"
            f"  OpenAPI docs: {url}/schema  (Swagger UI: {url}/schema/swagger)\n"
            f"  API token:    {token}\n"
            f"  database:     {mask_url_passwords(settings.effective_database_url)}\n"
            f"  redis:        {mask_url_passwords(env['REDIS_URL'])}{' (embedded)' if embedded else ''}\n"
            + "".join(f"  {name}={value}  (generated, kept in {home})\n" for name, value in webhook_secrets.items())
            + "Press Ctrl-C to stop.\n",
            flush=True,
        )
        supervisor.run()
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        supervisor.stop()


def _embedded_redis_process(server: EmbeddedRedis) -> Callable[[], subprocess.Popen[bytes]]:
    """Starts the embedded Redis; a restart drops its dump first, so it never comes back with stale jobs
    (the scheduler notices the empty Redis and rebuilds the jobs from the database)."""

    def start() -> subprocess.Popen[bytes]:
        if server.process is not None:
            (server.data_dir / "redis.rdb").unlink(missing_ok=True)
        process = server.start().process
        assert process is not None
        return process

    return start


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _local_secret(path: Path) -> str:
    """A secret generated once for this laptop and kept in ``path``, readable by its owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def cmd_fake_whatsapp(_: Settings, __: argparse.Namespace) -> None:
    """Listed for ``--help``; ``main`` dispatches ``fake-whatsapp`` early, with its own arguments."""
    from chronoflow.devtools.fake_whatsapp import main as fake_main

    fake_main([])


COMMANDS = {
    "dev": (cmd_dev, "api + scheduler + worker with embedded defaults (SQLite file, embedded Redis)"),
    "api": (cmd_api, "serve the REST API"),
    "scheduler": (cmd_scheduler, "hand due jobs to the queue (run several: one is active)"),
    "worker": (cmd_worker, "execute runs"),
    "migrate": (cmd_migrate, "apply database migrations"),
    "reconcile": (cmd_reconcile, "make Redis jobs match the database"),
    "fake-whatsapp": (cmd_fake_whatsapp, "a local fake WAHA + Evolution API gateway (see its --help)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chronoflow", description="Cron as a function.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name in ("dev", "api"):
            command.add_argument("--port", type=int, default=0, help="port to listen on (default: PORT or 3000)")
        if name == "worker":
            command.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "fake-whatsapp":
        from chronoflow.devtools.fake_whatsapp import main as fake_main

        load_settings("fake-whatsapp")
        fake_main(argv[1:])
        return
    args = build_parser().parse_args(argv)
    settings = load_settings(args.command)
    configure_logging(settings.log_level)
    COMMANDS[args.command][0](settings, args)


def load_settings(role: str) -> Settings:
    """The checked settings of ``role``, or exit 2 with every bad variable listed."""
    try:
        return Settings.from_env(role=role)
    except ConfigError as exc:
        print(f"chronoflow {role}: {exc}", file=sys.stderr)
        sys.exit(2)


__all__ = ["main"]
