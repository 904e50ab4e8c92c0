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


@pytest.mark.parametrize("forwarded", ["not-an-address", "1.2.3.4, unknown", "1.2.3.4, 5.6.7.8:443", ""])
def test_a_forwarded_value_that_is_not_an_address_falls_back_to_the_peer(settings, forwarded):
    """Behind the proxy the last X-Forwarded-For entry is the client; anything else there was not
    written by the proxy (and would fail the IP column on PostgreSQL, a 500 at every login)."""
    from django.test import RequestFactory

    from winback.security import client_ip

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    request = RequestFactory().post("/admin/login/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "10.0.0.2"


def test_the_proxys_entry_is_used(settings):
    from django.test import RequestFactory

    from winback.security import client_ip

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    request = RequestFactory().post(
        "/admin/login/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2"
    )
    assert client_ip(request) == "203.0.113.9"
