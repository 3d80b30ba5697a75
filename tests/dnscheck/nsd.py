"""Run a real NSD authoritative server on a free loopback port with zones given as text.

Reusable by any test area::

    zones = {"example.": zone_text("example.", [txt_record("@", "v=spf1 -all")])}
    with NsdServer(tmp_dir, zones) as ns:
        resolver = DnsResolver([ns.address])
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

import dns.message
import dns.query
import dns.rdatatype

NSD_BINARY = shutil.which("nsd") or "/usr/sbin/nsd"


def zone_text(origin: str, records: Iterable[str], ttl: int = 300) -> str:
    """A zone file: SOA and NS for ``origin`` followed by ``records`` (zone-file lines)."""
    origin = origin.rstrip(".") + "."
    head = [
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@ IN SOA ns.{origin} hostmaster.{origin} 1 3600 600 86400 {ttl}",
        f"@ IN NS ns.{origin}",
        "ns IN A 127.0.0.1",
    ]
    return "\n".join([*head, *records]) + "\n"


def txt_record(owner: str, text: str) -> str:
    """A TXT line, split in 255-byte strings as the zone format requires."""
    chunks = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
    quoted = " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
    return f"{owner} IN TXT {quoted}"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


class NsdServer:
    """NSD serving ``zones`` ({origin: zone text}) on 127.0.0.1:<free port>."""

    def __init__(self, workdir: Path, zones: Mapping[str, str], port: int | None = None) -> None:
        self.workdir = workdir
        self.zones = {origin.rstrip(".") + ".": text for origin, text in zones.items()}
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        blocks = []
        for i, (origin, text) in enumerate(self.zones.items()):
            path = self.workdir / f"zone{i}.zone"
            path.write_text(text)
            blocks.append(f'zone:\n    name: "{origin}"\n    zonefile: "{path}"\n')
        w = self.workdir
        config = f"""server:
    ip-address: 127.0.0.1
    port: {self.port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{w}"
    database: ""
    zonelistfile: "{w}/zone.list"
    xfrdfile: "{w}/xfrd.state"
    xfrdir: "{w}"
    pidfile: "{w}/nsd.pid"
    logfile: "{w}/nsd.log"
    server-count: 1
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
""" + "\n".join(blocks)
        conf = w / "nsd.conf"
        conf.write_text(config)
        return conf

    def start(self, ready_timeout: float = 10.0) -> NsdServer:
        conf = self._write_config()
        self.process = subprocess.Popen(
            [NSD_BINARY, "-d", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        first = next(iter(self.zones))
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = (
                    (self.workdir / "nsd.log").read_text()
                    if (self.workdir / "nsd.log").exists()
                    else ""
                )
                raise RuntimeError(f"nsd exited ({self.process.returncode}): {err} {log}")
            try:
                query = dns.message.make_query(first, dns.rdatatype.SOA)
                response = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.2)
                if response.answer:
                    return self
            except (OSError, dns.exception.Timeout):
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("nsd did not answer in time")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> NsdServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
