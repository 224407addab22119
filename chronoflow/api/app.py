"""The Litestar application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components
from redis import Redis

from chronoflow import __version__
from chronoflow.api.auth import BearerAuth
from chronoflow.api.campaigns import CampaignController
from chronoflow.api.channels import ChannelController
from chronoflow.api.chronos import ChronoController
from chronoflow.api.conformance import complete_allow_header
from chronoflow.api.contacts import ContactController
from chronoflow.api.errors import EXCEPTION_HANDLERS
from chronoflow.api.functions import FunctionController
from chronoflow.api.health import HealthChecks, health
from chronoflow.api.json_bodies import BoundedRequest
from chronoflow.api.metrics import metrics
from chronoflow.api.openapi import (
    DEFAULT_SECURITY,
    REQUEST_ID_HEADER,
    SECURITY_SCHEMES,
    ClosedBodySchemaPlugin,
)
from chronoflow.api.providers import EvolutionInstanceController, WahaSessionController
from chronoflow.api.request_ids import add_request_id_header
from chronoflow.api.runs import read_run
from chronoflow.api.schedules import parse_schedule
from chronoflow.api.tags import TagController
from chronoflow.api.webhooks import evolution_webhook, list_inbound_events, replay_inbound_event, waha_webhook
from chronoflow.campaigns.service import CampaignService
from chronoflow.channels.service import ChannelService
from chronoflow.chronos.service import ChronoService
from chronoflow.config import Settings
from chronoflow.console import TEMPLATE_CONFIG, console_router
from chronoflow.functions.runners import shared_runner
from chronoflow.functions.service import FunctionService
from chronoflow.sandbox.layers import probe_and_log
from chronoflow.scheduling.jobs import JobStore
from chronoflow.store.engine import Database

API_DESCRIPTION = (
    "Cron as a function: schedules that fire HTTP calls, WhatsApp messages or sandboxed Python.\n\n"
    "Every operation needs `Authorization: Bearer <token>` unless it says otherwise: `/health`, `/metrics` "
    "and this document (`/schema`, `/schema/swagger`) are public; provider webhooks carry the provider's "
    "signature or shared secret instead. Every error answers with the same body "
    "(`statusCode`, `detail`, `field` when one field is at fault, `requestId`)."
)
"""The document's introduction."""

ROUTE_HANDLERS: list[object] = [
    ChronoController, read_run, parse_schedule, health, metrics, FunctionController, ChannelController,
    WahaSessionController, EvolutionInstanceController, waha_webhook, evolution_webhook, list_inbound_events,
    replay_inbound_event, TagController, ContactController, CampaignController,
]
"""Every route of the API (the console's router is added beside them)."""


def create_app(settings: Settings, redis_url: str, database_url: str | None = None) -> Litestar:
    """Build the API around one database engine and one Redis connection pool."""
    db = Database(database_url or settings.effective_database_url)
    redis = Redis.from_url(redis_url, health_check_interval=30)
    jobs = JobStore(redis, settings.queue_name)
    chronos = ChronoService(db, jobs, settings)
    sandbox = shared_runner(settings)  # the sandbox policy, built once from the checked settings
    functions = FunctionService(db, settings, sandbox)
    channels = ChannelService(db, settings)
    campaigns = CampaignService(db, jobs, settings)
    health_checks = HealthChecks(db, redis, settings)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await asyncio.to_thread(probe_and_log, sandbox, "api")  # logs the layers, or the missing ones
        try:
            yield
        finally:
            await db.dispose()
            redis.close()

    dependencies = {
        "settings": Provide(lambda: settings, sync_to_thread=False),
        "db": Provide(lambda: db, sync_to_thread=False),
        "redis": Provide(lambda: redis, sync_to_thread=False),
        "jobs": Provide(lambda: jobs, sync_to_thread=False),
        "chronos": Provide(lambda: chronos, sync_to_thread=False),
        "functions": Provide(lambda: functions, sync_to_thread=False),
        "channels": Provide(lambda: channels, sync_to_thread=False),
        "campaigns": Provide(lambda: campaigns, sync_to_thread=False),
        "health_checks": Provide(lambda: health_checks, sync_to_thread=False),
    }
    return Litestar(
        route_handlers=[*ROUTE_HANDLERS, console_router()],
        template_config=TEMPLATE_CONFIG,
        state=State({"settings": settings}),
        dependencies=dependencies,
        exception_handlers=dict(EXCEPTION_HANDLERS),  # type: ignore[arg-type]
        before_send=[add_request_id_header, complete_allow_header],
        request_class=BoundedRequest,
        request_max_body_size=settings.max_request_body_bytes,
        # Logging is the process's (chronoflow.cli): Litestar's default config would replace the
        # root handlers, and unexpected errors are logged by chronoflow.api.errors with their id.
        logging_config=None,
        middleware=[BearerAuth(settings.api_tokens)],
        lifespan=[lifespan],
        plugins=[ClosedBodySchemaPlugin()],
        response_headers=[REQUEST_ID_HEADER],
        openapi_config=OpenAPIConfig(
            title="ChronoFlow",
            version=__version__,
            description=API_DESCRIPTION,
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            components=Components(security_schemes=dict(SECURITY_SCHEMES)),
            security=list(DEFAULT_SECURITY),
        ),
        debug=False,
    )
