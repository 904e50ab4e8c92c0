"""Reactions to other apps' signals (connected in CouponsConfig.ready()). Side effects only."""

from __future__ import annotations


def orders_upserted_record_redemptions(sender, order_ids: list[int], **kwargs) -> None:
    from coupons.services import coupon_redemptions_record

    coupon_redemptions_record(order_ids=order_ids)


def story_section_connect() -> None:
    """Show a contact's coupons on the contact story page, if the contacts app offers one."""
    try:
        from contacts.story import story_section_register
    except ImportError:
        return
    from coupons.selectors import contact_coupons_context

    story_section_register(
        title="Coupons",
        template="coupons/_contact_story.html",
        context=contact_coupons_context,
        order=40,
    )
