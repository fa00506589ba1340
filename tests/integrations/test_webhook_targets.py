"""Safe webhook targets (integrations/webhook_targets.py): https to public addresses only,
every resolved address checked, the connection pinned to the checked address, TLS checked
against the host name. Against real receivers on loopback: a refusal that let a request
through would reach them."""

import ipaddress
import socket

import pytest

from integrations.webhook_targets import address_refusal
from integrations.webhooks import webhook_send, webhook_url_refusal

PUBLIC = "1.1.1.1"


def send(url: str, certificate=None, timeout: float = 2):
    return webhook_send(
        url=url, body=b"{}", headers={}, timeout=timeout, ca_file=certificate and certificate[0]
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address"),  # cloud metadata
        ("fd00:ec2::254", "a private address"),  # AWS metadata over IPv6
        ("fe80::1", "a link-local address"),
        ("100.100.100.200", "a private address"),  # carrier-grade NAT; Alibaba's metadata
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 (Linux connects it to the host itself)
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a private address"),
        ("255.255.255.255", "a private address"),
        ("192.0.2.1", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "a link-local address"),
        ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::1", "a loopback address"),  # 6to4 of 127.0.0.1
        ("::7f00:1", "a reserved address"),  # IPv4-compatible, deprecated
        ("fec0::1", "a private address"),  # site-local, deprecated
        ("2001:db8::1", "a private address"),
    ],
)
def test_non_public_addresses_are_refused(address, kind):
    assert address_refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address", ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address):
    assert address_refusal(ipaddress.ip_address(address)) == ""


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address"),
        ("https://[::1]:{port}/", "::1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]:{port}/", "::ffff:127.0.0.1 is a loopback address"),
        ("https://0.0.0.0:{port}/", "0.0.0.0 is an unspecified address"),
        ("https://localhost:{port}/", "localhost resolves to a loopback address"),
        ("https://127.1:{port}/", "127.1 resolves to a loopback address (127.0.0.1)"),
        ("https://loopback.test:{port}/", "loopback.test resolves to a loopback address"),
        ("https://mixed.test:{port}/", "mixed.test resolves to a loopback address (127.0.0.1)"),
        ("https://10.0.0.1/", "10.0.0.1 is a private address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://[fd00:ec2::254]/", "fd00:ec2::254 is a private address"),
        ("https://metadata.test/", "metadata.test resolves to a link-local address"),
    ],
)
def test_private_targets_are_refused_unless_allowed(
    public_only, dns, tls_receiver, certificate, url, why
):
    """The receiver on 127.0.0.1 would accept these (it is trusted here, its certificate
    names localhost): nothing may reach it."""
    dns.answers["loopback.test"] = [["127.0.0.1"]]
    dns.answers["mixed.test"] = [[PUBLIC, "127.0.0.1"]]  # any non-public answer refuses
    dns.answers["metadata.test"] = [["169.254.169.254"]]
    result = send(url.format(port=tls_receiver.port), certificate)
    assert result.error.startswith(f"refused: {why}"), result
    assert (result.status, result.ok) == (None, False)
    assert tls_receiver.requests == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/", "only https URLs are allowed"),
        ("ftp://example.com/", "only https URLs are allowed"),
        ("https:///hook", "the URL has no host"),
        ("https://user:hunter2@example.com/", "credentials in the URL are not sent"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ],
)
def test_urls_are_checked_when_an_endpoint_is_saved(public_only, url, why):
    assert webhook_url_refusal(url=url).startswith(why)
    assert "hunter2" not in webhook_url_refusal(url=url)


def test_an_https_url_with_a_name_may_be_saved(public_only):
    assert webhook_url_refusal(url="https://hooks.example.com/cart?token=1") == ""


def test_http_and_private_targets_are_allowed_for_development(private_allowed, receiver):
    assert webhook_url_refusal(url=receiver.url) == ""
    assert send(receiver.url + "/hook").ok
    assert [request["path"] for request in receiver.requests] == ["/hook"]


def test_http_is_refused_unless_allowed(public_only, receiver):
    result = send(receiver.url + "/hook")
    assert result.error == "refused: only https URLs are allowed"
    assert receiver.requests == []


def test_dns_rebinding_cannot_reach_loopback(
    public_only, dns, monkeypatch, tls_receiver, certificate
):
    """The name answers a public address when it is checked and loopback afterwards. The
    delivery connects to the address it checked: it never looks the name up again, and the
    receiver on loopback (which would accept the request: its certificate names
    rebind.test) gets nothing."""
    dns.answers["rebind.test"] = [[PUBLIC], ["127.0.0.1"]]
    dialled = []

    class RecordingSocket(socket.socket):
        def connect(self, address):
            dialled.append(address[0])
            return super().connect(address)

    monkeypatch.setattr(socket, "socket", RecordingSocket)
    result = send(f"https://rebind.test:{tls_receiver.port}/hook", certificate, timeout=1)
    assert not result.ok
    assert dialled == [PUBLIC]
    assert dns.lookups == ["rebind.test"]
    assert tls_receiver.requests == []
    assert dns.getaddrinfo("rebind.test", 443)[0][4][0] == "127.0.0.1"  # what a 2nd lookup gets


def test_https_to_a_name_sends_its_host_and_sni_and_checks_its_certificate(
    private_allowed, dns, tls_receiver, certificate
):
    dns.answers["webhooks.test"] = [["127.0.0.1"]]
    result = send(f"https://webhooks.test:{tls_receiver.port}/hook?x=1", certificate)
    assert (result.status, result.error) == (200, "")
    (request,) = tls_receiver.requests
    assert request["path"] == "/hook?x=1"
    assert request["headers"]["Host"] == f"webhooks.test:{tls_receiver.port}"
    assert tls_receiver.server_names == ["webhooks.test"]


def test_a_certificate_for_another_name_is_refused(private_allowed, dns, tls_receiver, certificate):
    """The address is pinned, the name is still what the certificate must match."""
    dns.answers["other.test"] = [["127.0.0.1"]]
    result = send(f"https://other.test:{tls_receiver.port}/", certificate)
    assert result.status is None
    assert result.error.startswith("TLS certificate refused: Hostname mismatch"), result
    assert "'other.test'" in result.error
    assert tls_receiver.requests == []


def test_an_untrusted_certificate_is_refused(private_allowed, tls_receiver):
    result = send(tls_receiver.url + "/")
    assert result.status is None
    assert result.error.startswith("TLS certificate refused: self-signed certificate"), result
    assert tls_receiver.requests == []


def test_a_name_that_does_not_resolve_is_a_failure_not_an_exception(private_allowed, dns):
    result = send("https://nowhere.test/")
    assert (result.status, result.ok) == (None, False)
    assert result.error == "the host name could not be resolved"
