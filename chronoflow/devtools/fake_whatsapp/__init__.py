"""A fake WhatsApp gateway speaking the WAHA and Evolution API routes ChronoFlow uses.

For tests (``with FakeWhatsApp(...) as fake``) and for walk-throughs without a phone
(``chronoflow fake-whatsapp``). It keeps what it is sent, fails on request, and posts signed
webhooks for status changes and simulated inbound messages.
"""

from chronoflow.devtools.fake_whatsapp.cli import main
from chronoflow.devtools.fake_whatsapp.server import FakeWhatsApp

__all__ = ["FakeWhatsApp", "main"]
