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
