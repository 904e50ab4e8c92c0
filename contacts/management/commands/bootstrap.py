"""Create the roles (Marketer, Analyst, Administrator) and the first admin account.

Idempotent: `make run` calls it on every start. The login is printed only when
the account is created; WINBACK_ADMIN_USER / WINBACK_ADMIN_PASSWORD /
WINBACK_ADMIN_EMAIL set it instead of a generated password.
"""

from django.core.management.base import BaseCommand

from contacts.services.roles import admin_account_ensure, roles_sync


class Command(BaseCommand):
    help = "Create or update the Winback roles and the first administrator account."

    def handle(self, *args, **options):
        groups = roles_sync()
        self.stdout.write(f"Roles: {', '.join(g.name for g in groups)}")
        username, password = admin_account_ensure()
        if password:
            self.stdout.write(self.style.SUCCESS(f"Admin login created: {username} / {password}"))
        else:
            self.stdout.write(f"Admin account '{username}' already exists (password unchanged).")
