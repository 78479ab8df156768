"""Every outbound HTTP request the service makes (webhooks today) goes through here, so
that a URL a user typed cannot be aimed inside the network: only http(s), only
public addresses unless a setting allow-lists them, the address checked is the one
connected to (no second DNS lookup to rebind), no redirects, bounded time and size."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_RESPONSE_BYTES = 64 * 1024
TIMEOUT_S = 10.0
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """A URL the service will not send to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def _allowed(address: IPAddress) -> bool:
    return any(address in ipaddress.ip_network(net) for net in settings.OUTBOUND_ALLOWED_NETWORKS)


def _refusal(address: IPAddress) -> str | None:
    if _allowed(address):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for kind, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved or address.is_unspecified),
    ):
        if flag:
            return f"it points to a {kind} address ({address})"
    return None


def resolve(url: str) -> Target:
    """Checks a URL and pins the address to connect to; raises UnsafeURL with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs are allowed.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise UnsafeURL(f"The host {parts.hostname!r} does not resolve.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:  # every address: a name may resolve to a public and a private one
        if (why := _refusal(address)) is not None:
            raise UnsafeURL(f"The URL is not allowed: {why}.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, str(addresses[0]))


class _PinnedHTTPS(http.client.HTTPSConnection):
    """Connects to the checked address while verifying the certificate for the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float = TIMEOUT_S) -> Answer:
    """POSTs to a checked URL. Redirects are answers, not followed. Raises UnsafeURL, or
    OSError with a deliberately plain message (its detail would map the network)."""
    target = resolve(url)
    if target.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPS(target, timeout_s)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout_s)
    try:
        host = f"[{target.host}]" if ":" in target.host else target.host
        default_port = 443 if target.scheme == "https" else 80
        host = host if target.port == default_port else f"{host}:{target.port}"
        connection.request("POST", target.path, body=body, headers={**headers, "Host": host})
        response = connection.getresponse()
        return Answer(response.status, response.read(MAX_RESPONSE_BYTES))
    except (OSError, http.client.HTTPException) as exc:
        raise OSError("no answer from the receiver (connection failed or timed out)") from exc
    finally:
        connection.close()
