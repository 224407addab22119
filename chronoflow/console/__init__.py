"""The web console: server-rendered pages over the API's own services, in English and pt-BR."""

from chronoflow.console.rendering import TEMPLATE_CONFIG
from chronoflow.console.routes import console_router

__all__ = ["TEMPLATE_CONFIG", "console_router"]
