"""Messaging in the admin: templates (validated, with a per-contact preview), the Outbox (every
Message, query-budgeted for millions of rows), push subscriptions, provider events and the local
mail sink. Writes go through messaging.services.

One module per screen family; importing them registers their ModelAdmins.
"""

from messaging.admin import message_templates, outbox, parts  # noqa: F401
