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

    Enrollments an engine batch holds are left to it (its contact_data step ends them, and its
    conditional writes must find its claim): on SQLite those under a lease (claimed_by), on PostgreSQL
    those it has locked (SKIP LOCKED: the erasure never waits for a batch, which may be about to write
    the same contact row the erasure already holds: a deadlock).
    """
    from django.db import connection
    from django.utils import timezone

    from journeys.models import Enrollment

    ending = Enrollment.objects.filter(
        contact_id__in=contact_ids, state__in=Enrollment.IN_FLIGHT, claimed_by=""
    )
    if connection.vendor == "postgresql":
        free = ending.select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True)
        ending = Enrollment.objects.filter(id__in=list(free))
    ending.update(state=Enrollment.State.EXITED, exit_reason="erased", exited_at=timezone.now(), due_at=None)


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
