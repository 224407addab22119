"""The audience: contacts (normalized phones, attributes, tags, WhatsApp validity) and tags."""

from chronoflow.contacts.csv_export import export_csv
from chronoflow.contacts.csv_import import ImportReport, Rejected, import_contacts
from chronoflow.contacts.fields import MAX_CONTACT_NAME_CHARS, MAX_TAG_NAME_CHARS, split_tag_names
from chronoflow.contacts.service import ContactRecord, ContactService
from chronoflow.contacts.tags import TagService
from chronoflow.contacts.validation import ValidationReport, validate_contacts

__all__ = [
    "MAX_CONTACT_NAME_CHARS",
    "MAX_TAG_NAME_CHARS",
    "ContactRecord",
    "ContactService",
    "ImportReport",
    "Rejected",
    "TagService",
    "ValidationReport",
    "export_csv",
    "import_contacts",
    "split_tag_names",
    "validate_contacts",
]
