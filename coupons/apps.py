from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "coupons"
    verbose_name = "Coupons"

    def ready(self) -> None:
        from contacts.signals import orders_upserted
        from coupons import receivers

        orders_upserted.connect(
            receivers.orders_upserted_record_redemptions, dispatch_uid="coupons-redemptions"
        )
        receivers.story_section_connect()
