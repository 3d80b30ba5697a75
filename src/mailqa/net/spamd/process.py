"""A spamd child process managed by mailqa.

``ManagedSpamd`` runs ``spamd`` on 127.0.0.1 for the life of a process: a free port, its own
home, pid file and site config (no user config, Bayes off, loopback as the only trusted
network), waits until it answers PING, restarts it when it dies and stops it on exit.

Once it answers, it runs at a lower CPU priority (``niceness``): under a burst, the process
that owns it (SMTP capture, the API) gets the CPU first and the scans catch up afterwards.
Its start-up (compiling the rules) runs at normal priority, so it is ready sooner.
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
from pathlib import Path
from types import TracebackType
from typing import IO

from mailqa.core.errors import MailqaError
from mailqa.net.spamd.client import SpamdClient, SpamdUnavailable

log = logging.getLogger(__name__)

SITE_CONFIG_SOURCE = Path("/etc/spamassassin")

_LOG_VERSION = re.compile(r"running version (\S+?)\)")
# spamd runs under a small sh that also watches a pipe from this process: when this process
# ends without stopping it (killed, crashed), the pipe closes and the whole group is ended,
# so no orphaned spamd keeps running. The sh exits with spamd's own exit code.
_OWNER_WATCH = (
    'exec 3<&0; "$@" </dev/null 3<&- & spamd=$!; (read -r _ <&3; kill -TERM 0) & wait "$spamd"'
)


class SpamdStartError(MailqaError):
    """A managed spamd did not start (missing binary, bad config, port in use...)."""


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
        niceness: int = 10,
    ) -> None:
        self.binary = binary
        self.niceness = niceness
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
        self._lower_priority()
        text = self._log_text(log_start)
        match = _LOG_VERSION.search(text)
        self.version = match.group(1) if match else None
        log.info("managed spamd %s ready at %s (pid %s)", self.version, self.url, self.pid)

    def _lower_priority(self) -> None:
        """Every process of spamd's group at ``niceness`` (the children it forks later
        inherit it from their parent)."""
        if not self.niceness or self.pid is None:
            return
        try:
            os.setpriority(os.PRIO_PGRP, self.pid, self.niceness)
        except OSError as exc:
            log.info("managed spamd keeps its CPU priority: %s", exc)

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


def _nobody_ids() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam("nobody")
    except KeyError as exc:
        raise SpamdStartError("running as root needs a 'nobody' user for spamd") from exc
    return entry.pw_uid, entry.pw_gid
