from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from contacts.signals import contacts_forgotten
        from contacts.story import story_section_register
        from messaging.selectors import contact_story_context
        from messaging.services import on_contacts_forgotten

        contacts_forgotten.connect(on_contacts_forgotten, dispatch_uid="messaging.contacts_forgotten")

        story_section_register(
            title="Messages",
            template="messaging/_contact_story.html",
            context=contact_story_context,
            order=40,
        )
