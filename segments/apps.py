from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Scoring and segments"

    def ready(self) -> None:
        from contacts.signals import orders_upserted

        orders_upserted.connect(_orders_upserted, dispatch_uid="segments-orders-upserted")
        try:
            from contacts.story import story_section_register
        except ImportError:  # the contact story is optional
            return
        from segments.selectors import contact_story_context

        story_section_register(
            title="Scores and segments",
            template="segments/_contact_story.html",
            context=contact_story_context,
            order=20,
        )


def _orders_upserted(sender, order_ids: list[int] | None = None, **kwargs) -> None:
    from segments.services import scoring_orders_upserted

    scoring_orders_upserted(order_ids=list(order_ids or []))
