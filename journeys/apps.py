from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        from contacts.signals import contacts_forgotten, orders_upserted
        from journeys import receivers
        from journeys.steps import registry

        # Extra step kinds (dotted paths to StepKind classes), e.g. a shop's own integration.
        for path in getattr(settings, "JOURNEYS_EXTRA_STEP_KINDS", []):
            kind = import_string(path)
            registry[kind.kind] = kind()

        orders_upserted.connect(receivers.orders_upserted_convert, dispatch_uid="journeys-conversions")
        contacts_forgotten.connect(
            receivers.contacts_forgotten_end_enrollments, dispatch_uid="journeys-erased"
        )
        receivers.story_register()
