"""Where a webhook may be sent, and the connection that gets it there (integrations/webhooks.py
uses them; docs/webhooks.md, "Sending webhooks safely").

A target is `https` on a public address, or anything with `WEBHOOK_ALLOW_PRIVATE_URLS`. Its
host is resolved once and every address checked; the connection then goes to a checked
address (connect() never looks the name up again, so a DNS answer that changes in between,
"DNS rebinding", cannot reach loopback or a metadata service), while the Host header, TLS SNI
and the certificate's name check use the host name.

Built on the standard library's http.client: a connection class whose connect() dials the
checked address is all that pinning takes, where requests or urllib3 would need a custom
adapter or pool to keep the address apart from the host name.
"""

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from contextlib import suppress
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Address = tuple[int, tuple]  # (socket family, socket address)
# Not public, though ipaddress calls them global or only reserved.
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; a cloud's metadata
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind DNS64/NAT64


class Refused(Exception):
    """The target is not allowed; the message says why."""


def address_refusal(ip: IPAddress) -> str:
    """Why a connection to `ip` is not allowed (what kind of address it is), or ''."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
        if ip.is_site_local:
            return "a private address"
    for kind, matches in (
        ("an unspecified address", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),  # 169.254.169.254: cloud metadata
        ("a multicast address", ip.is_multicast),
        ("a private address", ip.is_private or ip in SHARED),
        ("a reserved address", ip.is_reserved),
        ("a non-public address", not ip.is_global),
    ):
        if matches:
            return kind
    return ""


def target(url: str) -> tuple[str, str, int, str]:
    """The scheme, host name (ASCII), port and path with query of `url`; Refused if it is
    not one this service sends to."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise Refused("not a valid URL") from None
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_URLS
    if parts.scheme not in ({"https", "http"} if allow_private else {"https"}):
        raise Refused("only https URLs are allowed")
    if not host:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("credentials in the URL are not sent; use the signature")
    if not allow_private:
        with suppress(ValueError):  # a name, not an address: checked when resolved
            if reason := address_refusal(ipaddress.ip_address(host)):
                raise Refused(f"{host} is {reason}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def addresses(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to, as (family, socket address); Refused if any of them
    is not public and private targets are not allowed."""
    found: list[Address] = []
    for family, _, _, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family not in (socket.AF_INET, socket.AF_INET6) or (family, address) in found:
            continue
        reason = address_refusal(ipaddress.ip_address(address[0]))
        if reason and not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
            raise Refused(f"{host} resolves to {reason} ({address[0]})")
        found.append((family, address))
    if not found:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return found


class Deadline:
    """Ends a request at a fixed time whatever the server does: a per-read timeout alone lets
    a server that sends a byte now and then hold it for ever. At the deadline a timer shuts
    the watched socket down, which wakes whatever waits on it."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socket = sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._socket is not None:
                with suppress(OSError):  # the plain socket's shutdown, even under TLS
                    socket.socket.shutdown(self._socket, socket.SHUT_RDWR)

    def stop(self) -> None:
        """Before the socket is closed, so the timer never touches a reused descriptor."""
        with self._lock:
            self._timer.cancel()
            self._socket = None


class PinnedConnection(http.client.HTTPConnection):
    """HTTP to `host` (the Host header) over a connection to one of `addresses`, which were
    checked; connect() never looks the name up again."""

    def __init__(
        self, host: str, port: int, *, addresses: list[Address], deadline: Deadline
    ) -> None:
        super().__init__(host, port, timeout=deadline.left())
        self.addresses, self.deadline = addresses, deadline

    def _dial(self) -> socket.socket:
        error: OSError = ConnectionError("no address")
        for family, address in self.addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.deadline.left())
                self.deadline.watch(sock)
                sock.connect(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise error

    def connect(self) -> None:
        self.sock = self._dial()


class PinnedTLSConnection(PinnedConnection):
    """HTTPS likewise: SNI and the certificate's name check use the host name."""

    default_port = 443

    def __init__(self, *args, context: ssl.SSLContext, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def connect(self) -> None:
        tls = self.context.wrap_socket(
            self._dial(), server_hostname=self.host, do_handshake_on_connect=False
        )
        self.sock = tls
        self.deadline.watch(tls)
        self.deadline.left()
        tls.do_handshake()
