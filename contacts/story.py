"""Sections other apps add to the contact page ("the contact's story").

Register in your AppConfig.ready():

    from contacts.story import story_section_register
    story_section_register(
        title="Coupons", template="coupons/_contact_story.html",
        context=lambda contact: {"coupons": coupons_of(contact)}, order=30,
    )

`context` runs once per page view for that contact; keep it to one or two queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contacts.models import Contact


@dataclass(frozen=True)
class StorySection:
    title: str
    template: str
    context: Callable[[Contact], dict]
    order: int


_SECTIONS: dict[str, StorySection] = {}


def story_section_register(
    *, title: str, template: str, context: Callable[[Contact], dict], order: int
) -> None:
    """Add (or replace, by template) a section on the contact change page."""
    _SECTIONS[template] = StorySection(title=title, template=template, context=context, order=order)


def story_sections() -> list[StorySection]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.title))


def story_render_context(*, contact: Contact) -> list[dict]:
    """Title, template and context of each section, ready for the change form."""
    return [
        {"title": s.title, "template": s.template, "context": s.context(contact)} for s in story_sections()
    ]
