"""Reactions to other apps' signals (connected in JourneysConfig.ready())."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def orders_upserted_convert(sender=None, *, order_ids: list[int], **kwargs) -> None:
    """Conversion goals: set-based, right away (the signal is sent after commit)."""
    from journeys.services import conversions_record

    conversions_record(order_ids=list(order_ids))


def story_register() -> None:
    """Add the contact's journeys to the contact story page, when contacts provides one."""
    try:
        from contacts.story import story_section_register
    except ImportError:
        return
    from journeys.selectors import contact_story_context

    story_section_register(
        title="Journeys",
        template="journeys/_contact_story.html",
        context=contact_story_context,
        order=40,
    )
