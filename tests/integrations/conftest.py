import socket

import pytest

from tests.integrations.receiver import Receiver, make_certificate


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple:
    """(certificate, key): self-signed, made once per run with the openssl CLI."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def tls_receiver(certificate):
    with Receiver(tls=certificate) as server:
        yield server


@pytest.fixture
def private_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def public_only(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


class FakeDNS:
    """Names ending in .test resolve to what a test sets: `answers[name]` is a list of
    lookups, each a list of addresses; lookups take them in turn and repeat the last. Other
    .test names do not resolve; all other names resolve as usual. `lookups` lists the names
    looked up."""

    def __init__(self, real) -> None:
        self.real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if not (isinstance(host, str) and host.endswith(".test")):
            return self.real(host, port, family, type, proto, flags)
        self.lookups.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        turns = self.answers[host]
        addresses = turns.pop(0) if len(turns) > 1 else turns[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in addresses
        ]


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake
