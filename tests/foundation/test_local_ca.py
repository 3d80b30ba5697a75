"""The local CA of ``mailqa serve --tls-self-signed``: made once, reused, renewed when needed,
and a certificate that Python's strictest TLS verification accepts for every name."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from mailqa.net.local_ca import (
    CA_VALIDITY,
    SERVER_VALIDITY,
    certificate_names,
    ensure_local_certificate,
)

NAMES = certificate_names("mailqa.test")


def test_names_cover_loopback_and_the_configured_host() -> None:
    assert certificate_names("0.0.0.0", "mail.example", "LOCALHOST", "[::1]") == (
        "localhost",
        "127.0.0.1",
        "::1",
        "mail.example",
    )
    assert certificate_names("::", None, "") == ("localhost", "127.0.0.1", "::1")


def test_made_once_then_reused(tmp_path: Path) -> None:
    first = ensure_local_certificate(tmp_path, NAMES)
    assert first.created_ca and first.issued
    files = [first.ca_file, first.cert_file, first.key_file, tmp_path / "ca-key.pem"]
    contents = [f.read_bytes() for f in files]
    again = ensure_local_certificate(tmp_path, NAMES)
    assert not again.created_ca and not again.issued
    assert [f.read_bytes() for f in files] == contents


def test_private_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    made = ensure_local_certificate(tmp_path / "tls", NAMES)
    for key in (made.key_file, made.ca_file.with_name("ca-key.pem")):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    assert stat.S_IMODE(made.ca_file.stat().st_mode) == 0o644


def test_new_names_get_a_new_certificate_from_the_same_ca(tmp_path: Path) -> None:
    first = ensure_local_certificate(tmp_path, NAMES)
    ca = first.ca_file.read_bytes()
    other = certificate_names("other.test")
    again = ensure_local_certificate(tmp_path, other)
    assert again.issued and not again.created_ca
    assert again.ca_file.read_bytes() == ca  # what users trust stays valid
    cert = x509.load_pem_x509_certificate(again.cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "other.test"]


def test_an_expiring_certificate_is_renewed_and_an_expired_ca_replaced(tmp_path: Path) -> None:
    first = ensure_local_certificate(tmp_path, NAMES)
    ca = first.ca_file.read_bytes()
    later = datetime.now(UTC) + SERVER_VALIDITY - timedelta(hours=12)
    renewed = ensure_local_certificate(tmp_path, NAMES, now=later)
    assert renewed.issued and not renewed.created_ca and renewed.ca_file.read_bytes() == ca
    much_later = datetime.now(UTC) + CA_VALIDITY
    replaced = ensure_local_certificate(tmp_path, NAMES, now=much_later)
    assert replaced.created_ca and replaced.ca_file.read_bytes() != ca


def test_a_damaged_key_is_replaced(tmp_path: Path) -> None:
    first = ensure_local_certificate(tmp_path, NAMES)
    first.key_file.write_text("not a key")
    assert ensure_local_certificate(tmp_path, NAMES).issued


def serve_once(context: ssl.SSLContext) -> tuple[socket.socket, threading.Thread]:
    listener = socket.socket(socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET)
    listener.bind(("::1" if socket.has_ipv6 else "127.0.0.1", 0))
    listener.listen()

    def accept() -> None:
        for _ in range(2):  # the covered name, then one that is not
            try:
                conn, _ = listener.accept()
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize("name", ["localhost", "::1", "mailqa.test"])
def test_strict_clients_accept_the_certificate_for_each_name(tmp_path: Path, name: str) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 loopback")
    made = ensure_local_certificate(tmp_path, NAMES)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(made.cert_file, made.key_file)
    listener, thread = serve_once(server)
    client = ssl.create_default_context(cafile=str(made.ca_file))
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    port = listener.getsockname()[1]
    try:
        with (
            socket.create_connection(("::1", port), timeout=5) as raw,
            client.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"x")
        with (
            socket.create_connection(("::1", port), timeout=5) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            client.wrap_socket(raw, server_hostname="not-covered.test")
    finally:
        listener.close()
        thread.join(1)
