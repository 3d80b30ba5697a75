"""HTTPS for ``mailqa serve``: the certificate files uvicorn serves with, and what is printed
about them (the Mailtrap SDKs speak https only)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from mailqa.core.errors import MailqaError
from mailqa.settings import Settings


@dataclass(frozen=True)
class HttpsFiles:
    cert_file: Path
    key_file: Path
    ca_file: Path | None = None  # the local CA, with --tls-self-signed
    note: str = ""  # what start-up says about the certificate


def https_files(settings: Settings) -> HttpsFiles | None:
    """The certificate and key to serve HTTPS with, or ``None`` for plain HTTP. With
    ``http_tls_self_signed`` they come from the local CA in ``<data dir>/tls``."""
    cert, key = settings.http_tls_cert, settings.http_tls_key
    if settings.http_tls_self_signed:
        if cert or key:
            raise MailqaError(
                "--tls-self-signed makes its own certificate: give it or --tls-cert/--tls-key "
                "(MAILQA_HTTP_TLS_CERT/KEY), not both"
            )
        from mailqa.net.local_ca import certificate_names, ensure_local_certificate

        names = certificate_names(settings.host, settings.smtp_hostname)
        made = ensure_local_certificate((settings.data_dir / "tls").resolve(), names)
        if made.created_ca:
            note = "made a local CA and a certificate"
        elif made.issued:
            note = "issued a new certificate from the local CA"
        else:
            note = "reusing the local CA's certificate"
        return HttpsFiles(
            made.cert_file, made.key_file, made.ca_file, f"{note} for {', '.join(names)}"
        )
    if bool(cert) != bool(key):
        raise MailqaError("HTTPS needs both --tls-cert and --tls-key (MAILQA_HTTP_TLS_CERT/KEY)")
    if cert is None or key is None:
        return None
    for path in (cert, key):
        if not path.is_file():
            raise MailqaError(f"TLS file not found: {path}")
    return HttpsFiles(cert, key)


def trust_lines(ca_file: Path) -> list[str]:
    """What a user pastes into the shell that runs their SDK, to trust the local CA."""
    quoted = shlex.quote(str(ca_file))
    return [
        f"Local CA: {ca_file}; trust it in the shell that runs your SDK:",
        f"  export REQUESTS_CA_BUNDLE={quoted}   # Python (requests, mailtrap)",
        f"  export NODE_EXTRA_CA_CERTS={quoted}  # Node (mailtrap)",
    ]
