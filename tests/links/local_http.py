"""A small real HTTP/1.1 server on loopback with the endpoints the link tests need.

Written on asyncio streams so each endpoint can misbehave precisely (HEAD refused, endless
bodies, slow answers). It records every request (method, Host, path) for assertions.
Also used by ``bench/links.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
HUGE_BODY_BYTES = 64 * 1024 * 1024
CHUNK = b"x" * 65536


@dataclass(frozen=True)
class Seen:
    method: str
    host: str
    path: str
    user_agent: str


@dataclass
class LocalHttpServer:
    """``await start()``; ``url(path)``; ``requests`` lists what arrived."""

    tls: ssl.SSLContext | None = None
    bind: str = "127.0.0.1"  # any 127/8 address (127.0.0.2 can stand for a public site)
    delay: float = 0.0  # added before every answer (the benchmark's slow site)
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    active: int = 0
    max_active: int = 0  # most requests answered at once
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.bind, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):  # idle keep-alive connections wait forever
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    def url(self, path: str, host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.bind}:{self.port}{path}"

    def count(self, path: str, method: str | None = None) -> int:
        return sum(
            1 for r in self.requests if r.path == path and (method is None or r.method == method)
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                path = urlsplit(target).path
                self.requests.append(
                    Seen(method, headers.get("host", ""), target, headers.get("user-agent", ""))
                )
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                try:
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    keep_open = await self._answer(method, path, target, writer)
                    await writer.drain()
                finally:
                    self.active -= 1
                if not keep_open:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _answer(
        self, method: str, path: str, target: str, writer: asyncio.StreamWriter
    ) -> bool:
        """Write one response; False when the connection must close afterwards."""

        def send(status: str, body: bytes = b"", ctype: str = "text/html", **extra: str) -> None:
            head = [f"HTTP/1.1 {status}", f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
            head += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            if method != "HEAD":
                writer.write(body)

        query = parse_qs(urlsplit(target).query)
        if path in ("/ok", "/") or path.startswith("/page/"):
            send("200 OK", b"<p>fine</p>")
        elif path.startswith("/css/"):  # a stylesheet using flexbox and a dark-mode query
            css = b".row{display:flex}@media (prefers-color-scheme: dark){.a{color:#fff}}"
            send("200 OK", css, ctype="text/css; charset=utf-8")
        elif path == "/404":
            send("404 Not Found", b"gone")
        elif path == "/403":
            send("403 Forbidden", b"robots not welcome")
        elif path == "/500":
            send("500 Internal Server Error", b"boom")
        elif path == "/moved":
            send("301 Moved Permanently", Location="/ok")
        elif path == "/chain":
            send("302 Found", Location="/moved")
        elif path == "/loop/a":
            send("302 Found", Location="/loop/b")
        elif path == "/loop/b":
            send("302 Found", Location="/loop/a")
        elif path == "/redirect":  # ?to=<absolute URL>
            send("302 Found", Location=query.get("to", ["/ok"])[0])
        elif path == "/slow":
            await asyncio.sleep(5)
            send("200 OK", b"late")
        elif path == "/head-404":  # a server that answers HEAD wrongly
            if method == "HEAD":
                send("404 Not Found")
            else:
                send("200 OK", b"<p>GET works</p>")
        elif path.startswith("/drip/"):  # /drip/<n>: 0.3 s, then a redirect to /drip/<n-1>
            await asyncio.sleep(0.3)
            left = int(path.rsplit("/", 1)[1] or 0)
            if left > 0:
                send("302 Found", Location=f"/drip/{left - 1}")
            else:
                send("200 OK", b"<p>end of the chain</p>")
        elif path == "/no-head":
            if method == "HEAD":
                send("405 Method Not Allowed", Allow="GET")
            else:
                send("200 OK", b"<p>GET only</p>")
        elif path in ("/huge", "/huge.png"):
            if method == "HEAD":
                send("405 Method Not Allowed", Allow="GET")
                return True
            ctype = "image/png" if path.endswith(".png") else "application/octet-stream"
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nConnection: close\r\n\r\n".encode()
            )
            sent = 0
            while sent < HUGE_BODY_BYTES:  # no length: the client must stop reading itself
                writer.write(CHUNK)
                await writer.drain()
                sent += len(CHUNK)
            return False
        elif path == "/image.png":
            send("200 OK", PNG_1PX, ctype="image/png")
        elif path == "/not-image.png":
            send("200 OK", b"<html>login page</html>", ctype="text/html; charset=utf-8")
        elif path == "/big.jpg":
            send("200 OK", b"\xff" * (3 * 1024 * 1024), ctype="image/jpeg")
        else:
            send("404 Not Found", b"no such endpoint")
        return True


def self_signed_cert(directory: Path, names: list[str]) -> tuple[Path, Path]:
    """A throw-away certificate for ``names`` (DNS names or IPs); returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
