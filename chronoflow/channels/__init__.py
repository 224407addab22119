"""WhatsApp channels: provider clients (WAHA, Evolution API), numbers, templates, opt-outs, webhooks."""

from chronoflow.channels.base import (
    ChannelStatus,
    ProviderKind,
    QrCode,
    SentMessage,
    SessionInfo,
    WhatsAppProvider,
)
from chronoflow.channels.delivery import DeliveryReport, Outcome, RecipientResult, deliver
from chronoflow.channels.errors import (
    ChannelError,
    InvalidPhoneNumber,
    MissingVariable,
    NotOnWhatsApp,
    ProviderError,
    TemplateError,
    TemplateSyntaxError,
    UnsupportedCall,
    WebhookPayloadError,
)
from chronoflow.channels.evolution import EvolutionClient, evolution_status
from chronoflow.channels.factory import provider_for_channel
from chronoflow.channels.optout_keywords import OPT_OUT_KEYWORDS, is_opt_out, opt_out_confirmation
from chronoflow.channels.phone import normalize_number
from chronoflow.channels.records import evolution_event_key, redact_secrets, waha_event_key
from chronoflow.channels.templates import render, template_variables
from chronoflow.channels.transport import ProviderTransport, RetryPolicy
from chronoflow.channels.validation import check_api_key, check_base_url, check_session_name
from chronoflow.channels.waha import WahaClient, waha_status
from chronoflow.channels.webhooks import (
    ChannelEvent,
    InboundMessage,
    QrEvent,
    Receipt,
    ReceiptEvent,
    StatusEvent,
    parse_evolution_event,
    parse_waha_event,
    sign_waha_body,
    verify_evolution_secret,
    verify_waha_hmac,
)

__all__ = [
    "OPT_OUT_KEYWORDS",
    "ChannelError",
    "ChannelEvent",
    "ChannelStatus",
    "DeliveryReport",
    "EvolutionClient",
    "InboundMessage",
    "InvalidPhoneNumber",
    "MissingVariable",
    "Outcome",
    "ProviderError",
    "ProviderKind",
    "ProviderTransport",
    "QrCode",
    "QrEvent",
    "Receipt",
    "ReceiptEvent",
    "RecipientResult",
    "RetryPolicy",
    "SentMessage",
    "SessionInfo",
    "StatusEvent",
    "TemplateError",
    "TemplateSyntaxError",
    "NotOnWhatsApp",
    "UnsupportedCall",
    "WahaClient",
    "WebhookPayloadError",
    "WhatsAppProvider",
    "check_api_key",
    "check_base_url",
    "check_session_name",
    "deliver",
    "evolution_event_key",
    "evolution_status",
    "is_opt_out",
    "normalize_number",
    "opt_out_confirmation",
    "parse_evolution_event",
    "parse_waha_event",
    "provider_for_channel",
    "redact_secrets",
    "render",
    "sign_waha_body",
    "template_variables",
    "verify_evolution_secret",
    "verify_waha_hmac",
    "waha_event_key",
    "waha_status",
]
