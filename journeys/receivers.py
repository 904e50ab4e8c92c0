"""Reactions to other apps' signals (connected in JourneysConfig.ready())."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def orders_upserted_convert(sender=None, *, order_ids: list[int], **kwargs) -> None:
    """Conversion goals: set-based, right away (the signal is sent after commit). A failure here
    must not break the import that sent the signal: it is logged and retried as a task."""
    from journeys.services import conversions_record

    try:
        conversions_record(order_ids=list(order_ids))
    except Exception:
        logger.exception("Recording journey conversions failed; retrying in a task")
        from journeys.tasks import conversions_record_task

        conversions_record_task.apply_async(args=[list(order_ids)], countdown=60)


def contacts_forgotten_end_enrollments(sender=None, *, contact_ids: list[int], mode: str, **kwargs) -> None:
    """Erasure ends the person's enrollments (exit reason "erased"); sent inside the erasure transaction.

    Enrollments claimed by an engine batch are left to it (its contact_data step ends them, and its
    conditional writes must find its claim).
    """
    from django.utils import timezone

    from journeys.models import Enrollment

    Enrollment.objects.filter(
        contact_id__in=contact_ids, state__in=Enrollment.IN_FLIGHT, claimed_by=""
    ).update(state=Enrollment.State.EXITED, exit_reason="erased", exited_at=timezone.now(), due_at=None)


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
