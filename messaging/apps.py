from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from contacts.story import story_section_register
        from messaging.selectors import contact_story_context

        story_section_register(
            title="Messages",
            template="messaging/_contact_story.html",
            context=contact_story_context,
            order=40,
        )
