"""Sections other apps add to the contact page ("the contact's story").

Register in your AppConfig.ready():

    from contacts.story import story_section_register
    story_section_register(
        title="Coupons", template="coupons/_contact_story.html",
        context=lambda contact: {"coupons": coupons_of(contact)}, order=30,
    )

`context` runs once per page view for that contact; keep it to one or two queries. The
template gets the returned dict as top-level variables and as `section`, plus `contact`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.template.loader import render_to_string

if TYPE_CHECKING:
    from django.http import HttpRequest

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


def story_render_context(*, contact: Contact, request: HttpRequest | None = None) -> list[dict]:
    """Each section's title and rendered HTML. A section template sees its context both as
    top-level variables and as `section`, plus `contact`."""
    rendered = []
    for s in story_sections():
        values = s.context(contact)
        html = render_to_string(
            s.template, {**values, "section": values, "contact": contact}, request=request
        )
        rendered.append({"title": s.title, "template": s.template, "html": html})
    return rendered
