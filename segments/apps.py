from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Scoring and segments"

    def ready(self) -> None:
        from contacts.signals import orders_upserted

        orders_upserted.connect(_orders_upserted, dispatch_uid="segments-orders-upserted")


def _orders_upserted(sender, order_ids: list[int] | None = None, **kwargs) -> None:
    from segments.services import scoring_orders_upserted

    scoring_orders_upserted(order_ids=list(order_ids or []))
