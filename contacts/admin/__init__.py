"""Admin for contacts, catalogue, orders, events, imports and API tokens.

Changelists are built for 1M+ rows: no full counts, a bounded paginator, related rows
joined (list_select_related), no per-row queries. Writes go through services.
One module per screen family; importing them registers their ModelAdmins."""

from contacts.admin import contact, jobs, shop  # noqa: F401
from contacts.admin.contact import ContactAdmin, ContactForm  # noqa: F401  (tests and other apps import these)
