"""Review of login throttling: a successful login of one's own account must not wipe the failures
recorded against another account from the same address (django-axes' reset on success deletes every
attempt of the IP by default: 4 guesses, log in as yourself, 4 guesses ... never locked)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def log_in(client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_own_logins_do_not_reset_the_guesses_against_someone_else(django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "b@example.com", "boss-password")
    django_user_model.objects.create_user("mallory", "m@example.com", "own-password", is_staff=True)
    attacker = Client()
    rounds = 3
    for _ in range(rounds):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            log_in(attacker, "boss", "guess")
        assert log_in(attacker, "mallory", "own-password").status_code in (302, 429)
        attacker.logout()
    # (limit - 1) x 3 guesses at boss's password: boss's name is locked, whoever tries it.
    assert log_in(Client(REMOTE_ADDR="198.51.100.7"), "boss", "boss-password").status_code == 429


def test_a_successful_login_still_clears_ones_own_failures(django_user_model, settings):
    django_user_model.objects.create_user("ada", "a@example.com", "pw-ada", is_staff=True)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "ada", "typo")
    assert log_in(client, "ada", "pw-ada").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "ada", "typo")
    assert log_in(client, "ada", "pw-ada").status_code == 302
