"""The audience: contacts (normalized phones, attributes, tags, WhatsApp validity) and tags."""

from chronoflow.contacts.fields import MAX_CONTACT_NAME_CHARS, MAX_TAG_NAME_CHARS
from chronoflow.contacts.service import ContactRecord, ContactService
from chronoflow.contacts.tags import TagService

__all__ = ["MAX_CONTACT_NAME_CHARS", "MAX_TAG_NAME_CHARS", "ContactRecord", "ContactService", "TagService"]
