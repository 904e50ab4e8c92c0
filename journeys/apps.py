from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts.signals import orders_upserted
        from journeys import receivers

        orders_upserted.connect(receivers.orders_upserted_convert, dispatch_uid="journeys-conversions")
        receivers.story_register()
