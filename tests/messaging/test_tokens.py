import pytest
from django.urls import reverse

from messaging import tokens


@pytest.mark.parametrize(
    "name", ["messaging:open", "messaging:click", "messaging:unsubscribe", "messaging:preferences"]
)
@pytest.mark.parametrize("token", ["eyJjIjoxfQ:1tX9aB:abc-DEF_123", "with space?query&x", "ünïcode"])
def test_link_paths_are_what_reverse_gives(name, token):
    """Delivery builds link paths without resolving the URL pattern per email: same result, and a
    token reverse() would quote still goes through reverse()."""
    assert tokens._path(name, token) == reverse(name, args=[token])


def test_link_paths_follow_the_script_prefix():
    from django.urls import set_script_prefix

    set_script_prefix("/shop/")
    try:
        assert tokens._path("messaging:unsubscribe", "abc:1") == "/shop/m/u/abc:1/"
    finally:
        set_script_prefix("/")


@pytest.mark.parametrize(
    ("value", "salt", "compress"),
    [
        (123, tokens.OPEN_SALT, False),
        ({"c": 7, "m": None}, tokens.UNSUBSCRIBE_SALT, False),
        ({"m": 5, "u": "https://shop.example.com/p/" + "x" * 300}, tokens.CLICK_SALT, True),  # compressed
        ({"m": 5, "u": "https://a.b/"}, tokens.CLICK_SALT, True),  # too short to gain from compression
        ({"m": 5, "u": "https://shop.example.com/ünïcode?q=1&r=2"}, tokens.CLICK_SALT, True),
        (0, tokens.PREFERENCES_SALT, False),
    ],
)
def test_tokens_are_the_ones_django_signing_makes(value, salt, compress, monkeypatch, settings):
    """Links signed with the cached key are byte for byte signing.dumps()'s: old links keep working
    and new ones verify with signing.loads() (and stop when the SECRET_KEY changes)."""
    from django.core import signing

    monkeypatch.setattr("time.time", lambda: 1_790_000_000.5)
    token = tokens._dumps(value, salt, compress=compress)
    assert token == signing.dumps(value, salt=salt, compress=compress)
    assert signing.loads(token, salt=salt) == value
    settings.SECRET_KEY = "another secret key that is long enough for the checks 0123456789"
    assert tokens._dumps(value, salt, compress=compress) == signing.dumps(value, salt=salt, compress=compress)
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt=salt)


def test_each_link_kind_round_trips():
    assert tokens.open_token_load(tokens.open_url(41).rsplit("/", 1)[1].removesuffix(".gif")) == 41
    click = tokens.click_url(41, "https://shop.example.com/a?b=1").rstrip("/").rsplit("/", 1)[1]
    assert tokens.click_token_load(click) == (41, "https://shop.example.com/a?b=1")
    unsubscribe = tokens.unsubscribe_url(9, 41).rstrip("/").rsplit("/", 1)[1]
    assert tokens.unsubscribe_token_load(unsubscribe) == (9, 41)
    assert tokens.preferences_token_load(tokens.preferences_url(9).rstrip("/").rsplit("/", 1)[1]) == 9
