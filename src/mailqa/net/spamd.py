"""SpamAssassin's spamd: one long-lived async client, and a managed spamd child process.

``SpamdClient`` wraps a single ``aiospamc`` client built once (the library's convenience
functions build SSL contexts on every call and halve throughput), bounds how many scans run at
once and how long each may take, and turns every failure into ``SpamdUnavailable`` (a
``TransientCheckError``: worth retrying) or ``MessageTooLarge`` (not).

``ManagedSpamd`` runs ``spamd`` on 127.0.0.1 for the life of a process: a free port, its own
home, pid file and site config (no user config, Bayes off, loopback as the only trusted
network), waits until it answers PING, restarts it when it dies and stops it on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiospamc.client import Client
from aiospamc.connections import ConnectionManagerBuilder, Timeout
from aiospamc.exceptions import (
    AIOSpamcConnectionFailed,
    BadResponse,
    ClientException,
    TimeoutException,
)
from aiospamc.requests import Request
from aiospamc.responses import ResponseException
from loguru import logger as _loguru

from mailqa.core.errors import CheckError, ConfigError, MailqaError, TransientCheckError
from mailqa.net.dns import parse_server

if TYPE_CHECKING:
    from mailqa.settings import Settings

# aiospamc logs every request through loguru; mailqa logs with the standard library.
_loguru.disable("aiospamc")

log = logging.getLogger(__name__)

DEFAULT_PORT = 783
SITE_CONFIG_SOURCE = Path("/etc/spamassassin")

_RULE_LINE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Za-z0-9_]+)(?:\s+(.*))?$")
_TABLE_RULER = re.compile(r"^-{3,}\s+-{3,}")
_CONTINUATION_INDENT = 10
_CHECKER_VERSION = re.compile(r"^X-Spam-Checker-Version:\s*SpamAssassin\s+(\S+)", re.M | re.I)
_LOG_VERSION = re.compile(r"running version (\S+?)\)")
# spamd runs under a small sh that also watches a pipe from this process: when this process
# ends without stopping it (killed, crashed), the pipe closes and the whole group is ended,
# so no orphaned spamd keeps running. The sh exits with spamd's own exit code.
_OWNER_WATCH = (
    'exec 3<&0; "$@" </dev/null 3<&- & spamd=$!; (read -r _ <&3; kill -TERM 0) & wait "$spamd"'
)
# The smallest message spamd accepts; used to ask a spamd for its version.
_PROBE_MESSAGE = b"Subject: mailqa version probe\r\n\r\nversion probe\r\n"


class SpamdUnavailable(TransientCheckError):
    """spamd could not be reached, timed out, refused the message or answered garbage."""


class MessageTooLarge(CheckError):
    """The message is over the size limit configured for spamd."""

    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(
            f"message is {size} bytes, over the spamd size limit of {max_size} bytes "
            "(MAILQA_SPAMD_MAX_SIZE)"
        )
        self.size = size
        self.max_size = max_size


class SpamdStartError(MailqaError):
    """A managed spamd did not start (missing binary, bad config, port in use...)."""


@dataclass(frozen=True)
class SpamRule:
    """One SpamAssassin rule that fired, as REPORT lists it."""

    name: str
    score: float
    description: str


@dataclass(frozen=True)
class SpamdReport:
    """spamd's verdict on one message."""

    score: float
    threshold: float
    is_spam: bool
    rules: tuple[SpamRule, ...]
    protocol_version: str
    response_code: int
    response_message: str
    elapsed_ms: float


def parse_report_rules(text: str) -> list[SpamRule]:
    """Read the rule table of a REPORT body.

    The table is fixed-width (``pts rule name description``) below a ruler of dashes; long
    descriptions continue on lines indented by at least 10 spaces, which are joined back.
    Points may be negative or integral (``1000``).
    """
    rules: list[SpamRule] = []
    in_table = False
    name = ""
    score = 0.0
    description: list[str] = []

    def flush() -> None:
        if name:
            rules.append(SpamRule(name=name, score=score, description=" ".join(description)))

    for line in text.splitlines():
        if not in_table:
            in_table = bool(_TABLE_RULER.match(line))
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        if indent >= _CONTINUATION_INDENT and name:
            description.append(line.strip())
            continue
        match = _RULE_LINE.match(line)
        if match is None:
            # Anything else after the table (a custom template's footer) ends it.
            break
        flush()
        score = float(match.group(1))
        name = match.group(2)
        description = [match.group(3).strip()] if match.group(3) else []
    flush()
    return rules


@dataclass(frozen=True)
class SpamdAddress:
    """Where spamd listens: ``tcp://host[:port]`` or ``unix:///path``."""

    url: str
    host: str | None = None
    port: int | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, url: str) -> SpamdAddress:
        parts = urlsplit(url.strip())
        if parts.scheme == "unix":
            path = parts.path or parts.netloc
            if not path:
                raise ConfigError(f"spamd URL {url!r} has no socket path (unix:///path)")
            return cls(url=url, path=Path(path))
        if parts.scheme == "tcp":
            if not parts.hostname:
                raise ConfigError(f"spamd URL {url!r} has no host (tcp://host:port)")
            try:
                port = parts.port or DEFAULT_PORT
            except ValueError as exc:
                raise ConfigError(f"spamd URL {url!r} has a bad port") from exc
            return cls(url=url, host=parts.hostname, port=port)
        raise ConfigError(f"spamd URL {url!r}: expected tcp://host:port or unix:///path")


class SpamdClient:
    """One long-lived connection factory to one spamd, shared by every scan of a process."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 20.0,
        concurrency: int = 2,
        max_size: int = 500 * 1024,
    ) -> None:
        if timeout <= 0:
            raise ConfigError("spamd timeout must be positive")
        if concurrency < 1:
            raise ConfigError("spamd concurrency must be at least 1")
        self.address = SpamdAddress.parse(url)
        self.timeout = timeout
        self.concurrency = concurrency
        self.max_size = max_size
        self._client = Client(self._connection_manager(timeout))
        self._slots = asyncio.Semaphore(concurrency)
        self._version: str | None = None
        self._version_lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return self.address.url

    def _connection_manager(self, timeout: float) -> Any:
        builder = ConnectionManagerBuilder()
        if self.address.path is not None:
            builder = builder.with_unix_socket(self.address.path)
        else:
            assert self.address.host is not None and self.address.port is not None
            builder = builder.with_tcp(self.address.host, self.address.port)
        limits = Timeout(total=timeout, connection=min(timeout, 5.0), response=timeout)
        return builder.set_timeout(limits).build()

    async def _request(self, verb: str, body: bytes) -> Any:
        """Send one request within the concurrency bound; map every failure to one error."""
        async with self._slots:
            try:
                return await self._client.request(Request(verb, body=body))
            except AIOSpamcConnectionFailed as exc:
                raise SpamdUnavailable(f"spamd at {self.url} is unreachable: {exc}") from exc
            except (TimeoutError, TimeoutException) as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} did not answer within {self.timeout:g} s"
                ) from exc
            except ResponseException as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} refused the message: {exc.code} {exc}"
                ) from exc
            except BadResponse as exc:
                raise SpamdUnavailable(
                    f"spamd at {self.url} sent no valid answer (it may have died mid-scan)"
                ) from exc
            except (ClientException, OSError) as exc:
                raise SpamdUnavailable(f"spamd at {self.url} failed: {exc}") from exc

    async def ping(self) -> None:
        """Raise ``SpamdUnavailable`` unless spamd answers PING."""
        await self._request("PING", b"")

    async def report(self, raw: bytes) -> SpamdReport:
        """Scan ``raw`` with REPORT: score, spamd's own threshold and the rules that fired."""
        if len(raw) > self.max_size:
            raise MessageTooLarge(len(raw), self.max_size)
        started = time.perf_counter()
        response = await self._request("REPORT", raw)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
        spam = response.headers.get("Spam")
        if spam is None:
            raise SpamdUnavailable(f"spamd at {self.url} answered REPORT without a Spam header")
        body = response.body.decode("utf-8", errors="replace")
        return SpamdReport(
            score=float(spam.score),
            threshold=float(spam.threshold),
            is_spam=bool(spam.value),
            rules=tuple(parse_report_rules(body)),
            protocol_version=str(response.version),
            response_code=int(response.status_code),
            response_message=str(response.message),
            elapsed_ms=elapsed_ms,
        )

    async def server_version(self) -> str | None:
        """SpamAssassin's version, asked once (HEADERS of a tiny message) and cached.

        ``None`` when spamd does not say (a custom header config) or cannot be reached now.
        """
        if self._version is not None:
            return self._version
        async with self._version_lock:
            if self._version is None:
                try:
                    response = await self._request("HEADERS", _PROBE_MESSAGE)
                except SpamdUnavailable:
                    return None
                match = _CHECKER_VERSION.search(response.body.decode("utf-8", errors="replace"))
                self._version = match.group(1) if match else ""
        return self._version or None

    def set_server_version(self, version: str | None) -> None:
        """Record a version known another way (a managed spamd logs it at start-up)."""
        self._version = version or None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_spamd(binary: str = "spamd") -> str | None:
    """The spamd executable to run, or ``None`` when it is not installed."""
    found = shutil.which(binary)
    if found is None:
        for candidate in (Path("/usr/sbin") / binary, Path("/usr/local/sbin") / binary):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return found


class ManagedSpamd:
    """A spamd child process on loopback, owned by this process.

    Use as an async context manager: entering starts it and waits for PING, leaving stops it
    (and every child it forked). While it runs, a watcher restarts it on the same port when
    it dies.
    """

    def __init__(
        self,
        binary: str = "spamd",
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        children: int = 2,
        network_rules: bool = False,
        dns_server: str | None = None,
        start_timeout: float = 30.0,
        extra_config: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary
        self.host = host
        self.port = port or 0
        self.children = max(1, children)
        self.network_rules = network_rules
        self.dns_server = dns_server
        self.start_timeout = start_timeout
        self.extra_config = extra_config
        self.version: str | None = None
        self.restarts = 0
        self._dir: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._log_file: IO[bytes] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self._restarted = asyncio.Event()

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def workdir(self) -> Path | None:
        """Its home, site config, pid file and log (removed on stop)."""
        return self._dir

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def __aenter__(self) -> ManagedSpamd:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _prepare_dir(self) -> Path:
        base = Path(tempfile.mkdtemp(prefix="mailqa-spamd-"))
        (base / "home").mkdir()
        site = base / "site"
        site.mkdir()
        # --siteconfigpath replaces /etc/spamassassin: without its .pre files no plugin loads.
        for pre in sorted(SITE_CONFIG_SOURCE.glob("*.pre")):
            shutil.copy(pre, site / pre.name)
        (site / "local.cf").write_text(self._site_config())
        if os.geteuid() == 0:
            # spamd drops to 'nobody', which must read its config and write its home.
            nobody = _nobody_ids()
            for path in (base, base / "home", site, *site.iterdir()):
                os.chown(path, *nobody)
            base.chmod(0o755)
        return base

    def _site_config(self) -> str:
        lines = [
            "# Written by mailqa for its managed spamd.",
            "use_bayes 0",
            "bayes_auto_learn 0",
            # Only this machine is trusted: a hop from any other address is scored the way a
            # receiving MX scores it, so no ALL_TRUSTED bonus for mail relayed on a LAN.
            "trusted_networks 127.0.0.0/8 ::1",
            "internal_networks 127.0.0.0/8 ::1",
        ]
        if self.network_rules:
            lines.append("dns_available yes")
            if self.dns_server:
                lines.append(f"dns_server {self.dns_server}")
        lines.extend(self.extra_config)
        return "\n".join(lines) + "\n"

    def _command(self, executable: str) -> list[str]:
        assert self._dir is not None
        command = [
            executable,
            f"--listen={self.host}:{self.port}",
            "-x",
            f"--max-children={self.children}",
            f"--min-children={self.children}",
            "--syslog=stderr",
            f"--pidfile={self._dir / 'spamd.pid'}",
            f"--siteconfigpath={self._dir / 'site'}",
            "-H",
            str(self._dir / "home"),
        ]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        if not self.network_rules:
            command.append("-L")
        return command

    async def start(self) -> None:
        """Start spamd and wait until it answers PING."""
        executable = find_spamd(self.binary)
        if executable is None:
            raise SpamdStartError(
                f"spamd binary {self.binary!r} not found; install it "
                "(Debian: apt-get install spamassassin spamc spamd) or set MAILQA_SPAMD_URL"
            )
        self._stopping = False
        self._dir = self._prepare_dir()
        if not self.port:
            self.port = free_port(self.host)
        try:
            await self._spawn(executable)
        except BaseException:
            await self.stop()
            raise
        self._watcher = asyncio.create_task(self._watch(executable), name="mailqa-spamd-watch")

    async def _spawn(self, executable: str) -> None:
        assert self._dir is not None
        if self._log_file is not None:
            self._log_file.close()
        self._log_file = (self._dir / "spamd.log").open("ab")
        log_start = self._log_file.tell()
        self._proc = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            _OWNER_WATCH,
            "mailqa-spamd",
            *self._command(executable),
            stdin=asyncio.subprocess.PIPE,  # never written: it closes when this process dies
            stdout=self._log_file,
            stderr=self._log_file,
            start_new_session=True,  # its own process group: stop() reaches every child
        )
        await self._wait_ready()
        text = self._log_text(log_start)
        match = _LOG_VERSION.search(text)
        self.version = match.group(1) if match else None
        log.info("managed spamd %s ready at %s (pid %s)", self.version, self.url, self.pid)

    def _log_text(self, start: int = 0) -> str:
        if self._dir is None:
            return ""
        try:
            with (self._dir / "spamd.log").open("rb") as fh:
                fh.seek(start)
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self._log_text().splitlines()[-lines:])

    async def _wait_ready(self) -> None:
        probe = SpamdClient(self.url, timeout=2.0, concurrency=1)
        deadline = time.monotonic() + self.start_timeout
        while True:
            assert self._proc is not None
            if self._proc.returncode is not None:
                raise SpamdStartError(
                    f"spamd exited with code {self._proc.returncode} at start-up:\n"
                    f"{self.log_tail()}"
                )
            try:
                await probe.ping()
                return
            except SpamdUnavailable:
                if time.monotonic() > deadline:
                    raise SpamdStartError(
                        f"spamd did not answer PING within {self.start_timeout:g} s:\n"
                        f"{self.log_tail()}"
                    ) from None
                await asyncio.sleep(0.05)

    async def _watch(self, executable: str) -> None:
        """Restart spamd whenever it exits while not being stopped."""
        delay = 0.5
        while not self._stopping:
            proc = self._proc
            assert proc is not None
            code = await proc.wait()
            if self._stopping:
                return
            log.warning("managed spamd (pid %s) exited with code %s; restarting", proc.pid, code)
            if proc.stdin is not None:
                proc.stdin.close()
            self._kill_group(proc.pid, signal.SIGKILL)  # orphaned children hold the port
            await self._group_gone(proc.pid)
            while not self._stopping:
                try:
                    await self._spawn(executable)
                except SpamdStartError as exc:
                    log.error("managed spamd restart failed: %s", exc)
                    self._kill_group(self.pid, signal.SIGKILL)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                self.restarts += 1
                self._restarted.set()
                delay = 0.5
                break

    async def wait_restarted(self) -> None:
        """Wait until the watcher has restarted spamd after it died (bound it with a timeout)."""
        await self._restarted.wait()
        self._restarted.clear()

    @staticmethod
    async def _group_gone(pgid: int, limit: float = 5.0) -> None:
        """Wait (bounded) until no process of the group is left."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                pass
            await asyncio.sleep(0.02)

    @staticmethod
    def _kill_group(pid: int | None, sig: signal.Signals) -> None:
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    async def stop(self) -> None:
        """Stop spamd and its children; remove its files."""
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        proc = self._proc
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            self._kill_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                self._kill_group(proc.pid, signal.SIGKILL)
                await proc.wait()
            # Children that outlived the parent still belong to its group.
            self._kill_group(proc.pid, signal.SIGKILL)
            await self._group_gone(proc.pid)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def spamd_dns_server(settings: Settings) -> str | None:
    """The DNS server a managed spamd's network rules query: ``spamd_dns_server``, else the
    first of ``dns_servers`` (in SpamAssassin's ``dns_server`` form, IPv6 in brackets), else
    none (the system resolver)."""
    if settings.spamd_dns_server:
        return settings.spamd_dns_server
    if not settings.dns_servers:
        return None
    host, port = parse_server(settings.dns_servers[0])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _nobody_ids() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam("nobody")
    except KeyError as exc:
        raise SpamdStartError("running as root needs a 'nobody' user for spamd") from exc
    return entry.pw_uid, entry.pw_gid


async def open_spamd(
    settings: Settings, stack: AsyncExitStack, *, offline: bool = False
) -> tuple[SpamdClient | None, str | None]:
    """The spamd client a process uses, and why there is none when there is none.

    An external spamd (``spamd_url``) is used as is. Otherwise a managed spamd is started
    (``spamd_managed`` auto/on) and stopped when ``stack`` closes. Offline, its network rules
    stay off whatever the settings say.
    """

    def client_for(url: str) -> SpamdClient:
        return SpamdClient(
            url,
            timeout=settings.spamd_timeout,
            concurrency=settings.spamd_concurrency,
            max_size=settings.spamd_max_size,
        )

    if settings.spamd_url:
        return client_for(settings.spamd_url), None
    if settings.spamd_managed == "off":
        return None, "no spamd: MAILQA_SPAMD_URL is unset and the managed spamd is off"
    if find_spamd(settings.spamd_binary) is None:
        reason = (
            f"no spamd: MAILQA_SPAMD_URL is unset and {settings.spamd_binary!r} is not installed "
            "(Debian: apt-get install spamassassin spamc spamd)"
        )
        if settings.spamd_managed == "on":
            raise ConfigError(reason)
        return None, reason
    managed = ManagedSpamd(
        settings.spamd_binary,
        children=settings.spamd_children,
        network_rules=settings.spamd_network_rules and not offline,
        dns_server=spamd_dns_server(settings),
    )
    try:
        await stack.enter_async_context(managed)
    except SpamdStartError as exc:
        if settings.spamd_managed == "on":
            raise ConfigError(f"the managed spamd did not start: {exc}") from exc
        log.warning("the managed spamd did not start: %s", exc)
        return None, f"the managed spamd did not start: {str(exc).splitlines()[0]}"
    client = client_for(managed.url)
    client.set_server_version(managed.version)
    return client, None
