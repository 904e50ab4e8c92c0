"""Every request the server makes to a URL that someone else chose (push endpoints, future webhooks)
goes through this module, so the server never calls its own network (SSRF).

Three checks, each refusing on its own:
1. `push_endpoint_problem(url)`: the URL as written: https only, no credentials, no IP literal, no
   local name, host on MESSAGING_PUSH_ENDPOINT_HOSTS (the browsers' push services). Run by the admin
   form, the public subscribe endpoint and again right before each send.
2. `address_problem(ip)`: after DNS resolution, no private, loopback, link-local (cloud metadata
   169.254.169.254 included), shared, multicast, reserved or unspecified address, IPv4 or IPv6.
3. `session()`: a requests session that resolves the host itself, refuses the connection when any
   resolved address is not public, connects to the checked address (no second lookup to rebind) and
   never follows a redirect.

Provider answers are reduced to `response_summary()` ("HTTP 500 Internal Server Error"): a response
body is never stored or shown, whatever it says.
"""

from __future__ import annotations

import ipaddress
import socket
from http import HTTPStatus
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan", ".intranet")
MAX_URL_LENGTH = 1000
# Addresses no outbound request may reach even though `ipaddress` calls them global.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "169.254.0.0/16",  # link-local, cloud metadata services
        "fd00:ec2::/32",  # AWS metadata over IPv6
        "64:ff9b::/96",  # NAT64 (wraps any IPv4, 127.0.0.1 included)
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4 (wraps any IPv4)
    )
)


class OutboundRefused(Exception):
    """The request would reach an address or URL the server must not call; nothing was sent."""


def host_allowed(host: str, patterns: list[str]) -> bool:
    """`host` matches one of `patterns` ("push.example.com", "*.example.com" for subdomains, "*")."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower().strip()
        if pattern == "*" or host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def url_problem(url: str, *, allowed_hosts: list[str], what: str = "The URL") -> str:
    """Why the server must not call `url` as written ("" if fine)."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        return f"{what} is too long."
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
        return f"{what} is not a valid URL."
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return f"{what} is not a valid URL."
    labels = host.split(".")
    if (
        parts.scheme != "https"
        or not host
        or parts.username is not None
        or parts.password is not None
        or len(labels) < 2
        or not labels[-1].isalpha()  # IP literals: 127.0.0.1, 2130706433, 0x7f000001, [::1]
        or host.endswith(LOCAL_SUFFIXES)
    ):
        return f"{what} must be an https URL on a public host name (no IP address, no local name)."
    if not host_allowed(host, allowed_hosts):
        return f"{what}'s host {host} is not allowed."
    return ""


def _origin(scheme: str, host: str, port: int | None) -> str:
    port = port or (443 if scheme == "https" else 80)
    return f"{scheme}://{host.lower().rstrip('.')}:{port}"


def origin_exempt(scheme: str, host: str, port: int | None) -> bool:
    """MESSAGING_OUTBOUND_EXEMPT_ORIGINS: origins ("http://127.0.0.1:8089") a deployment explicitly
    trusts, e.g. a push gateway of its own or a local test server. Empty by default."""
    exempt = getattr(settings, "MESSAGING_OUTBOUND_EXEMPT_ORIGINS", [])
    if not exempt:
        return False
    wanted = _origin(scheme, host, port)
    for origin in exempt:
        try:
            parts = urlsplit(origin)
            if _origin(parts.scheme, parts.hostname or "", parts.port) == wanted:
                return True
        except ValueError:
            continue
    return False


def push_endpoint_problem(endpoint: str) -> str:
    """Why the worker must not POST a push to `endpoint` ("" if fine)."""
    try:
        parts = urlsplit(endpoint)
        if origin_exempt(parts.scheme, parts.hostname or "", parts.port) and len(endpoint) <= MAX_URL_LENGTH:
            return ""
    except (ValueError, TypeError, AttributeError):
        return "The push endpoint is not a valid URL."
    problem = url_problem(
        endpoint, allowed_hosts=settings.MESSAGING_PUSH_ENDPOINT_HOSTS, what="The push endpoint"
    )
    if problem.endswith("is not allowed."):
        return "The push endpoint's host is not a known push service (MESSAGING_PUSH_ENDPOINT_HOSTS)."
    return problem


def address_problem(address: str) -> str:
    """Why no request may go to this IP address ("" if it is a public unicast address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or any(ip in network for network in BLOCKED_NETWORKS if network.version == ip.version)
    ):
        return f"{ip} is not a public address"
    return ""


def _getaddrinfo(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def resolve_public(host: str, port: int) -> str:
    """The first address `host` resolves to, if every address it resolves to is public."""
    try:
        addresses = _getaddrinfo(host, port)
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(f"{host} does not resolve: {exc}") from None
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve")
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise OutboundRefused(f"refused to connect to {host}: {problem}")
    return addresses[0]


class _CheckedMixin:
    """Resolve and check at connect time, then connect to that very address (no rebinding between a
    check and the connection). TLS still verifies the certificate against the host name."""

    scheme = "http"

    def _new_conn(self):
        name = self._dns_host
        if origin_exempt(self.scheme, name, self.port):
            return super()._new_conn()
        self._dns_host = resolve_public(name, self.port)
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name  # TLS (SNI, certificate) and the Host header use the name


class CheckedHTTPConnection(_CheckedMixin, HTTPConnection):
    pass


class CheckedHTTPSConnection(_CheckedMixin, HTTPSConnection):
    scheme = "https"


class CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": CheckedHTTPConnectionPool,
            "https": CheckedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise OutboundRefused("outbound requests do not go through proxies")


class NoRedirectSession(requests.Session):
    """Redirects are answers, never followed (a 3xx to an internal address would bypass the checks)."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # no proxies or netrc from the environment
        self.max_redirects = 0
        self.mount("http://", CheckedAdapter())
        self.mount("https://", CheckedAdapter())

    def get_redirect_target(self, resp):
        return None


def session() -> requests.Session:
    return NoRedirectSession()


def response_summary(response) -> str:
    """ "HTTP 500 Internal Server Error": the status and its standard phrase, never the body."""
    status = getattr(response, "status_code", None)
    if status is None:
        return "no response"
    try:
        phrase = HTTPStatus(int(status)).phrase
    except ValueError:
        phrase = ""
    return f"HTTP {status} {phrase}".strip()


def exception_summary(exc: BaseException) -> str:
    """A short reason for a failed request without anything the remote side wrote."""
    if isinstance(exc, OutboundRefused):
        return str(exc)[:200]
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "could not connect"
    return type(exc).__name__
