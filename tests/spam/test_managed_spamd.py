"""The managed spamd's life: hangs, deaths mid-scan, restarts, stop; and the wiring."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable

import psutil
import pytest

from mailqa.checks.spam import SpamCheck, SpamDetails
from mailqa.core.errors import ConfigError
from mailqa.core.message import ParsedMessage
from mailqa.core.report import Status
from mailqa.net.spamd.client import SpamdClient, SpamdUnavailable
from mailqa.net.spamd.process import ManagedSpamd, SpamdStartError
from mailqa.net.spamd.provision import open_spamd
from mailqa.resources import check_context, open_check_context
from mailqa.settings import Settings

Sample = Callable[[str], ParsedMessage]


@pytest.fixture(scope="module")
async def own_spamd(spamd_installed: None) -> AsyncIterator[ManagedSpamd]:
    """A spamd these tests may freeze and kill without disturbing the session's one."""
    async with ManagedSpamd(children=1) as daemon:
        yield daemon


def _signal_group(daemon: ManagedSpamd, sig: signal.Signals) -> None:
    assert daemon.pid is not None
    os.killpg(daemon.pid, sig)


async def _wait_connected(port: int) -> None:
    """Poll until this process has sent a request on a connection to ``port``."""
    me = psutil.Process()
    for _ in range(1000):
        if any(
            c.raddr and c.raddr.port == port and c.status != psutil.CONN_LISTEN
            for c in me.net_connections(kind="tcp")
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no connection to port {port} within 10 s")


def _spamd_parent(daemon: ManagedSpamd) -> psutil.Process:
    """The spamd master process (the managed pid is the small sh that watches this process)."""
    assert daemon.pid is not None
    for proc in psutil.Process(daemon.pid).children():
        if any(arg.startswith("--listen=") for arg in proc.cmdline()):
            return proc
    raise AssertionError("no spamd master process")


async def test_hung_spamd_times_out_as_errored_and_retryable(
    own_spamd: ManagedSpamd, sample: Sample
) -> None:
    client = SpamdClient(own_spamd.url, timeout=1.0)
    _signal_group(own_spamd, signal.SIGSTOP)
    try:
        result = await SpamCheck().run(sample("gtube.eml"), check_context(Settings(), spamd=client))
    finally:
        _signal_group(own_spamd, signal.SIGCONT)
    assert result.status == Status.ERRORED
    assert result.retryable is True
    assert result.error == f"spamd at {own_spamd.url} did not answer within 1 s"
    assert SpamDetails.model_validate(result.details).outcome == "unavailable"


async def test_spamd_killed_mid_scan_is_errored_then_restarted(
    own_spamd: ManagedSpamd, sample: Sample
) -> None:
    client = SpamdClient(own_spamd.url, timeout=30.0)
    ctx = check_context(Settings(), spamd=client)
    restarts = own_spamd.restarts
    old_pid = own_spamd.pid
    # Freeze spamd so the scan is surely in flight, then kill it and every child.
    _signal_group(own_spamd, signal.SIGSTOP)
    scan = asyncio.create_task(SpamCheck().run(sample("gtube.eml"), ctx))
    await _wait_connected(own_spamd.port)
    _signal_group(own_spamd, signal.SIGKILL)
    result = await scan
    assert result.status == Status.ERRORED
    assert result.retryable is True
    assert result.error is not None and result.error.startswith(f"spamd at {own_spamd.url}")

    async with asyncio.timeout(30):
        await own_spamd.wait_restarted()
    assert own_spamd.restarts == restarts + 1
    assert own_spamd.running and own_spamd.pid != old_pid
    await client.ping()
    again = await SpamCheck().run(sample("gtube.eml"), ctx)
    assert again.status == Status.FAILED
    assert SpamDetails.model_validate(again.details).is_spam is True


async def test_orphaned_children_do_not_block_a_restart(
    own_spamd: ManagedSpamd, sample: Sample
) -> None:
    """Killing only spamd's parent leaves children holding the port; the restart clears them."""
    assert own_spamd.pid is not None
    parent = _spamd_parent(own_spamd)
    children = parent.children()
    assert children
    restarts = own_spamd.restarts
    parent.kill()
    async with asyncio.timeout(30):
        await own_spamd.wait_restarted()
    assert own_spamd.restarts == restarts + 1
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    client = SpamdClient(own_spamd.url)
    result = await SpamCheck().run(
        sample("order_shipped.eml"), check_context(Settings(), spamd=client)
    )
    assert result.status == Status.PASSED


async def test_a_ready_spamd_runs_below_its_owner_and_so_do_its_new_children(
    own_spamd: ManagedSpamd,
) -> None:
    """Scans yield the CPU to capture: every spamd process is reniced once spamd answers,
    and a child spamd forks later (replacing one that died) inherits the lower priority."""
    parent = _spamd_parent(own_spamd)
    assert psutil.Process(own_spamd.pid).nice() == own_spamd.niceness == 10
    assert parent.nice() == 10
    [child] = parent.children()
    assert child.nice() == 10
    assert psutil.Process().nice() == 0  # the owner keeps its own priority
    child.kill()
    for _ in range(1000):
        replacements = [c for c in parent.children() if c.pid != child.pid and c.is_running()]
        if replacements:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("spamd forked no new child within 10 s")
    assert [c.nice() for c in replacements] == [10]
    await SpamdClient(own_spamd.url, timeout=10).ping()


async def test_stop_ends_every_process_and_removes_its_files(spamd_installed: None) -> None:
    daemon = ManagedSpamd(children=1)
    await daemon.start()
    pid = daemon.pid
    assert pid is not None
    workdir = daemon.workdir
    assert workdir is not None and (workdir / "site" / "local.cf").is_file()
    assert "trusted_networks 127.0.0.0/8" in (workdir / "site" / "local.cf").read_text()
    group = [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    assert len(group) >= 3  # the watching sh, spamd, its child
    client = SpamdClient(daemon.url, timeout=2)
    await client.ping()
    await daemon.stop()
    assert not daemon.running
    assert not workdir.exists()
    for p in group:
        assert not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(SpamdUnavailable, match="unreachable"):
        await client.ping()


async def test_missing_binary_is_a_clear_start_error() -> None:
    with pytest.raises(SpamdStartError, match="apt-get install spamassassin spamc spamd"):
        await ManagedSpamd("no-such-spamd-binary").start()


async def test_spamd_url_is_used_as_is() -> None:
    from contextlib import AsyncExitStack

    settings = Settings(spamd_url="tcp://127.0.0.1:7830", spamd_timeout=3, spamd_concurrency=5)
    async with AsyncExitStack() as stack:
        client, reason = await open_spamd(settings, stack)
    assert reason is None
    assert client is not None
    assert client.url == "tcp://127.0.0.1:7830"
    assert client.timeout == 3 and client.concurrency == 5
    assert client.max_size == settings.spamd_max_size


async def test_managed_off_or_missing_gives_a_reason_not_a_client() -> None:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        client, reason = await open_spamd(Settings(spamd_managed="off"), stack)
        assert client is None and reason is not None and "managed spamd is off" in reason
        client, reason = await open_spamd(Settings(spamd_binary="no-such-spamd"), stack)
        assert client is None and reason is not None and "not installed" in reason
        with pytest.raises(ConfigError, match="not installed"):
            await open_spamd(Settings(spamd_binary="no-such-spamd", spamd_managed="on"), stack)


@pytest.mark.slow
async def test_check_context_starts_and_stops_a_managed_spamd(
    spamd_installed: None, sample: Sample
) -> None:
    async with open_check_context(Settings()) as ctx:
        assert ctx.spamd is not None
        result = await SpamCheck().run(sample("gtube.eml"), ctx)
        assert result.status == Status.FAILED
        spam = SpamDetails.model_validate(result.details)
        assert spam.spamd_version is not None
        client = ctx.spamd
        assert isinstance(client, SpamdClient)
    with pytest.raises(SpamdUnavailable):
        await client.ping()


async def test_check_context_without_spamd(sample: Sample) -> None:
    async with open_check_context(Settings(), with_spamd=False) as ctx:
        assert ctx.spamd is None
        result = await SpamCheck().run(sample("gtube.eml"), ctx)
    assert result.status == Status.SKIPPED


OWNER_SCRIPT = """
import asyncio, sys
from mailqa.net.spamd.process import ManagedSpamd

async def main():
    daemon = ManagedSpamd(children=1)
    await daemon.start()
    print(daemon.port, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


async def test_spamd_dies_with_a_killed_owner(spamd_installed: None) -> None:
    """An owner killed without stopping its spamd leaves no spamd behind."""
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OWNER_SCRIPT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert owner.stdout is not None
        async with asyncio.timeout(30):
            port = int(await owner.stdout.readline())
        client = SpamdClient(f"tcp://127.0.0.1:{port}", timeout=2)
        await client.ping()
        spamd_pids = [c.pid for c in psutil.Process(owner.pid).children(recursive=True)]
        assert spamd_pids
    finally:
        owner.kill()
        await owner.wait()
    for _ in range(500):
        alive = [
            p
            for p in spamd_pids
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            break
        await asyncio.sleep(0.02)
    assert not alive, f"spamd processes outlived their owner: {alive}"
    with pytest.raises(SpamdUnavailable):
        await client.ping()
