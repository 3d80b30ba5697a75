"""A local certificate authority and a server certificate for ``mailqa serve --tls-self-signed``.

The official Mailtrap SDKs speak https only. Made once under ``<data dir>/tls/`` and reused on
later starts, so the CA a user told their SDK to trust (``REQUESTS_CA_BUNDLE``,
``NODE_EXTRA_CA_CERTS``) stays the same file with the same contents. The server certificate
is issued again when it has expired (or expires within a day), when the names it must cover
change, or when it is not the CA's; the CA itself only when it is missing, unreadable or
expired. Private keys are written 0600 in a 0700 directory.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=397)  # the longest any TLS client accepts
RENEW_BEFORE = timedelta(days=1)
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class LocalCertificate:
    """The files uvicorn serves with (``cert_file``, ``key_file``) and the CA clients trust."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    names: tuple[str, ...]
    created_ca: bool
    issued: bool  # the server certificate was (re)issued by this call


def certificate_names(*names: str | None) -> tuple[str, ...]:
    """localhost, 127.0.0.1, ::1 and the given host names or addresses, each once, in order;
    wildcard bind addresses (0.0.0.0, ::) and empty values are left out."""
    seen: list[str] = []
    for name in (*DEFAULT_NAMES, *names):
        if not name:
            continue
        value = name.strip().strip("[]").lower()
        if value in ("", "0.0.0.0", "::") or value in seen:
            continue
        seen.append(value)
    return tuple(seen)


def ensure_local_certificate(
    directory: Path, names: Sequence[str], *, now: datetime | None = None
) -> LocalCertificate:
    """The CA and a server certificate for ``names`` in ``directory``: the existing ones when
    still good, else made (see the module docstring for when)."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca_file, ca_key_file = directory / "ca.pem", directory / "ca-key.pem"
    cert_file, key_file = directory / "server.pem", directory / "server-key.pem"

    ca = _load_ca(ca_file, ca_key_file, now)
    created_ca = ca is None
    if ca is None:
        ca = _new_ca(now)
        _write(ca_key_file, _key_pem(ca[1]), private=True)
        _write(ca_file, ca[0].public_bytes(serialization.Encoding.PEM))
    ca_cert, ca_key = ca

    issued = created_ca or not _server_is_good(cert_file, key_file, ca_cert, names, now)
    if issued:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _new_server_cert(ca_cert, ca_key, key, names, now)
        _write(key_file, _key_pem(key), private=True)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return LocalCertificate(ca_file, cert_file, key_file, tuple(names), created_ca, issued)


# Reading what is there ----------------------------------------------------------------------


def _load_ca(
    cert_file: Path, key_file: Path, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if key.public_key() != cert.public_key():
        return None
    if cert.not_valid_after_utc - RENEW_BEFORE <= now:
        return None
    return cert, key


def _server_is_good(
    cert_file: Path,
    key_file: Path,
    ca_cert: x509.Certificate,
    names: Sequence[str],
    now: datetime,
) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return False
    if key.public_key() != cert.public_key():
        return False
    if not (cert.not_valid_before_utc <= now < cert.not_valid_after_utc - RENEW_BEFORE):
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return _names_of(cert) == set(_general_names(names))


def _names_of(cert: x509.Certificate) -> set[x509.GeneralName]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(san)


# Making new ones ----------------------------------------------------------------------------


def _general_names(names: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            address: IPAddress = ipaddress.ip_address(name)
        except ValueError:
            out.append(x509.DNSName(name))
        else:
            out.append(x509.IPAddress(address))
    return out


def _new_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailqa"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"mailqa local CA {now:%Y-%m-%d}"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_server_cert(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    names: Sequence[str],
    now: datetime,
) -> x509.Certificate:
    if not names:
        raise ValueError("a server certificate needs at least one name")
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + SERVER_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` atomically; a private key is never readable by others, not even for
    a moment (the temporary file is created 0600)."""
    mode = 0o600 if private else 0o644
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
