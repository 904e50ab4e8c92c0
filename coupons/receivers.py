"""Reactions to other apps' signals (connected in CouponsConfig.ready()). Side effects only."""

from __future__ import annotations

import importlib.util


def orders_upserted_record_redemptions(sender, order_ids: list[int], **kwargs) -> None:
    from coupons.services import coupon_redemptions_record

    coupon_redemptions_record(order_ids=order_ids)


def story_section_connect() -> None:
    """Show a contact's coupons on the contact story page, if the contacts app offers one."""
    if importlib.util.find_spec("contacts.story") is None:
        return
    from contacts import story

    register = getattr(story, "story_section_register", None)
    if register is None:
        return
    from coupons.selectors import contact_coupons_context

    register(
        title="Coupons",
        template="coupons/_contact_story.html",
        context=contact_coupons_context,
        order=40,
    )
