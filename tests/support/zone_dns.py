"""A small authoritative DNS server on loopback (UDP and TCP) serving records given as data.

Conformance suites describe each scenario's DNS as a mapping of names to records, with names
that must never answer (``TIMEOUT``). NSD cannot leave a name unanswered, so this server,
built on dnspython's message codec, serves such data as it is written::

    with ZoneServer() as server:
        server.load({"example.com": [Record("TXT", ("v=spf1 -all",))], "slow.example": [TIMEOUT]})
        resolver = DnsResolver([server.address])

A name whose entries include ``TIMEOUT`` answers the types it has records of and leaves every
other query for it unanswered (as the OpenSPF drivers read the suites).

Answers are authoritative; a name with no records of the asked type is NODATA when it (or a
name below it) exists and NXDOMAIN otherwise; CNAMEs are followed inside the data; a UDP
answer over 512 bytes is sent truncated so that the client retries over TCP.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SPF
import dns.rdtypes.ANY.TXT
import dns.rrset


class _Timeout:
    def __repr__(self) -> str:
        return "TIMEOUT"


TIMEOUT: Final = _Timeout()
"""A name's entry meaning: leave a query for a type it has no records of unanswered."""


@dataclass(frozen=True)
class Record:
    """One record: ``rdtype`` (A AAAA CNAME MX PTR TXT SPF) and its value: an address or a
    name, ``(preference, host)`` for MX, the character-strings for TXT and SPF (each str
    is encoded as Latin-1 when it can be, as UTF-8 otherwise, and split at 255 bytes)."""

    rdtype: str
    value: str | tuple[int, str] | tuple[str, ...]


ZoneData = Mapping[str, Sequence[Record | _Timeout]]
UDP_LIMIT = 512
TTL = 300


def _text_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _rdata(record: Record) -> dns.rdata.Rdata:
    rdtype = dns.rdatatype.from_text(record.rdtype)
    value = record.value
    if record.rdtype in ("TXT", "SPF"):
        strings = [value] if isinstance(value, str) else list(value)
        chunks: list[bytes] = []
        for item in strings:
            data = _text_bytes(str(item))
            chunks.extend(data[i : i + 255] for i in range(0, len(data), 255))
            if not data:
                chunks.append(b"")
        chunks = chunks or [b""]
        cls = dns.rdtypes.ANY.TXT.TXT if record.rdtype == "TXT" else dns.rdtypes.ANY.SPF.SPF
        return cls(dns.rdataclass.IN, rdtype, chunks)
    if record.rdtype == "MX":
        assert isinstance(value, tuple)
        preference, host = value
        text = f"{int(preference)} {dns.name.from_text(str(host)).to_text()}"
    else:
        text = str(value)
        if record.rdtype in ("CNAME", "PTR"):
            text = dns.name.from_text(text).to_text()
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)


def _key(name: str | dns.name.Name) -> str:
    """The lookup key of a name: its labels as written (a query's labels are not escaped, so
    ``a b.example`` asked as ``a\\032b.example`` finds its data), lower case."""
    if isinstance(name, dns.name.Name):
        text = ".".join(label.decode("latin-1") for label in name.labels)
    else:
        text = name
    return text.rstrip(".").lower()


class _Zone:
    """The loaded data, keyed by lower-case name without the trailing dot."""

    def __init__(self, data: ZoneData) -> None:
        self.records: dict[str, list[dns.rdata.Rdata]] = {}
        self.timeouts: set[str] = set()
        for name, entries in data.items():
            key = _key(name)
            rdatas = self.records.setdefault(key, [])
            for entry in entries:
                if isinstance(entry, _Timeout):
                    self.timeouts.add(key)
                else:
                    rdatas.append(_rdata(entry))
        self.names = set(self.records)

    def exists(self, key: str) -> bool:
        return key in self.names or any(n.endswith("." + key) for n in self.names)

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response to ``query``, or None when it must go unanswered."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        followed: set[str] = set()
        for _ in range(8):  # CNAME chain inside the data, bounded
            key = _key(name)
            if key in followed:  # a loop: the chain so far, as an authoritative server says
                return response
            followed.add(key)
            rdatas = self.records.get(key, [])
            matching = [r for r in rdatas if r.rdtype == rdtype]
            cname = [r for r in rdatas if r.rdtype == dns.rdatatype.CNAME]
            if matching:
                response.answer.append(_rrset(name, rdtype, matching))
                return response
            if key in self.timeouts:
                return None
            if cname and rdtype != dns.rdatatype.CNAME:
                response.answer.append(_rrset(name, dns.rdatatype.CNAME, cname[:1]))
                name = cname[0].target  # type: ignore[attr-defined]
                continue
            if not self.exists(key):
                response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        return response


def _rrset(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, rdatas: Iterable[dns.rdata.Rdata]
) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
    for rdata in rdatas:
        rrset.add(rdata, TTL)
    return rrset


def openspf_zone(zonedata: Mapping[str, Sequence[object]]) -> dict[str, list[Record | _Timeout]]:
    """An OpenSPF scenario's ``zonedata`` as served data, read as the suites' drivers do:
    an ``SPF`` entry is served as TXT too unless the name has TXT entries of its own, and
    ``TXT: NONE`` is no record (it only stops that copy)."""
    out: dict[str, list[Record | _Timeout]] = {}
    for name, entries in zonedata.items():
        records: list[Record | _Timeout] = []
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        for entry in entries:
            if entry == "TIMEOUT":
                records.append(TIMEOUT)
                continue
            assert isinstance(entry, dict), entry
            for rdtype, value in entry.items():
                if value == "NONE":
                    continue
                records.append(Record(rdtype, _suite_value(rdtype, value)))
                if rdtype == "SPF" and not has_txt:
                    records.append(Record("TXT", _suite_value(rdtype, value)))
        out[name] = records
    return out


def _suite_value(rdtype: str, value: object) -> str | tuple[int, str] | tuple[str, ...]:
    if rdtype == "MX":
        assert isinstance(value, list)
        return (int(value[0]), str(value[1]))
    if rdtype in ("TXT", "SPF"):
        return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)
    return str(value)


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.owner.reply(data, udp=True)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        try:
            while True:
                head = _read_exact(conn, 2)
                if head is None:
                    return
                data = _read_exact(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                reply = self.server.owner.reply(data, udp=False)
                if reply is None:
                    return  # unanswered: the client times out
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def _read_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    owner: ZoneServer


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: ZoneServer


class ZoneServer:
    """Serves the data last given to ``load`` on 127.0.0.1, UDP and TCP on one port."""

    def __init__(self) -> None:
        self._zone = _Zone({})
        self._lock = threading.Lock()
        self.queries = 0
        self._udp, self._tcp = self._bind()
        self._threads: list[threading.Thread] = []

    def _bind(self) -> tuple[_UdpServer, _TcpServer]:
        for _ in range(50):
            udp = _UdpServer(("127.0.0.1", 0), _UdpHandler)
            port = udp.server_address[1]
            try:
                tcp = _TcpServer(("127.0.0.1", port), _TcpHandler)
            except OSError:
                udp.server_close()
                continue
            udp.owner = tcp.owner = self
            return udp, tcp
        raise RuntimeError("no port free for both UDP and TCP")

    @property
    def port(self) -> int:
        return int(self._udp.server_address[1])

    @property
    def address(self) -> str:
        """``host:port``, as ``DnsResolver`` and the ``dns_servers`` setting take it."""
        return f"127.0.0.1:{self.port}"

    def load(self, data: ZoneData) -> None:
        """Serve ``data`` from now on (replacing what was served)."""
        zone = _Zone(data)
        with self._lock:
            self._zone = zone

    def reply(self, wire: bytes, udp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        with self._lock:
            zone = self._zone
            self.queries += 1
        response = zone.answer(query)
        if response is None:
            return None
        if not udp:
            return response.to_wire()
        try:
            return response.to_wire(max_size=UDP_LIMIT)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            return truncated.to_wire()

    def start(self) -> ZoneServer:
        for server in (self._udp, self._tcp):
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> ZoneServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
