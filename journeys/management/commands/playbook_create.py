"""manage.py playbook_create "<playbook name>" [--prefix TEXT] [--option name=value ...]"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from journeys.playbooks import playbook_create, playbook_get, playbooks_list


class Command(BaseCommand):
    help = "Create a draft journey (with its segments, pools and templates) from a playbook."

    def add_arguments(self, parser):
        titles = ", ".join(f'"{p.title}"' for p in playbooks_list())
        parser.add_argument("name", help=f"The playbook: {titles}.")
        parser.add_argument("--prefix", default="", help="Put before every name created (e.g. 'Spring').")
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A playbook option, e.g. mode=delete (Base clean-up) or start_at=2026-01-31.",
        )

    def handle(self, *args, name: str, prefix: str, option: list[str], **options):
        values = {}
        for item in option:
            key, separator, value = item.partition("=")
            if not separator:
                raise CommandError(f"--option {item!r}: expected NAME=VALUE.")
            values[key.strip()] = value.strip()
        try:
            playbook = playbook_get(name)
            result = playbook_create(playbook=playbook, prefix=prefix, options=values)
        except ValidationError as exc:
            raise CommandError("\n".join(exc.messages)) from None
        for line in result.lines():
            self.stdout.write(line)
        self.stdout.write(
            f"Draft journey id {result.journey.pk}: open it in the admin, check it, then publish."
        )
