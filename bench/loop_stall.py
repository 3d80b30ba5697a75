"""The worst event-loop stall one hostile message causes, on the default checks.

Starts the service with its defaults (every default-on check, SQLite, inline analysis; the
managed spamd when installed), sends each message over real SMTP and, while it is captured
and analysed, measures the longest gap between ticks of a 5 ms timer on the server's loop.
The floor is the same timer on an idle server, measured in the same run.

    .venv/bin/python bench/loop_stall.py [--size-mb 24]
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from mailqa.capture.smtp import start_smtp_server
from mailqa.service import open_service
from mailqa.settings import Settings
from mailqa.worker.selection import select_executor

SENDER = """
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=600) as smtp:
    smtp.sendmail("app@app.example", ["user@example.com"], open(sys.argv[2], "rb").read())
"""


def mail(subject: str, html: str, attachment: bytes | None = None) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "app@app.example", "user@example.com", subject
    m.set_content("text part")
    m.add_alternative(html, subtype="html", cte="quoted-printable")
    if attachment is not None:
        m.add_attachment(attachment, maintype="application", subtype="octet-stream")
    return m.as_bytes(policy=email.policy.SMTP)


def hostile(size: int) -> dict[str, bytes]:
    tags = '<td style="display:flex;background:url(x)"><a href="https://example.com/{}">x</a></td>'
    n = size // 90
    return {
        "markup": mail("markup", "".join(tags.format(i) for i in range(n))),
        "css": mail("css", "<style>" + ".c{display:flex}\n" * (size // 18) + "</style>"),
        "mailto": mail("mailto", f'<a href="mailto:{"a@" * (size // 4)}">x</a>'),
        "url(": mail("url(", f'<p style="{"url(" * (size // 8)}">x</p>'),
        "attachment": mail("attachment", "<p>hi</p>", b"\0" * (size // 2)),
        "encoded-words": mail("=?utf-8?q?a?= " * (size // 2000), "<p>hi</p>"),
    }


async def worst_gap(seconds_or_event: float | asyncio.Event) -> tuple[float, float]:
    """The longest gap between ticks of a 5 ms timer, in wall time, and the longest CPU
    time the loop's own thread spent between two ticks (its own work, whatever the load of
    the machine: other processes and threads holding the GIL add to the first only)."""
    worst, last = 0.0, time.perf_counter()
    worst_cpu, last_cpu = 0.0, time.thread_time()

    async def tick() -> None:
        nonlocal worst, last, worst_cpu, last_cpu
        while True:
            await asyncio.sleep(0.005)
            now, cpu = time.perf_counter(), time.thread_time()
            worst, last = max(worst, now - last), now
            worst_cpu, last_cpu = max(worst_cpu, cpu - last_cpu), cpu

    task = asyncio.create_task(tick())
    if isinstance(seconds_or_event, asyncio.Event):
        await seconds_or_event.wait()
    else:
        await asyncio.sleep(seconds_or_event)
    task.cancel()
    return worst, worst_cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=24)
    parser.add_argument(
        "--analysis-processes",
        type=int,
        default=None,
        help="MAILQA_ANALYSIS_PROCESSES (default: the setting's default; 0: checks in-process)",
    )
    args = parser.parse_args()
    size = int(args.size_mb * 1024 * 1024)
    data = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=data, smtp_max_message_size=size * 2)
    if args.analysis_processes is not None:
        settings = settings.model_copy(update={"analysis_processes": args.analysis_processes})
    print(f"analysis processes: {settings.analysis_processes}")
    async with open_service(settings, executor=select_executor) as service:
        server = await start_smtp_server(service, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        idle, idle_cpu = await worst_gap(2.0)
        print(
            f"idle server: worst tick gap {idle * 1000:.1f} ms, "
            f"loop thread CPU {idle_cpu * 1000:.1f} ms (floor)"
        )
        for name, raw in hostile(size).items():
            done = asyncio.Event()

            path = data / "outgoing.eml"
            path.write_bytes(raw)  # before measuring: this thread writes it

            async def send(path: Path = path) -> None:
                # From another process: smtplib's dot-stuffing of 25 MB (one re.sub) would hold
                # this process's GIL and show up as a stall of the server's loop.
                sender = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", SENDER, str(port), str(path)
                )
                assert await sender.wait() == 0, "the SMTP client failed"

            async def flow(done: asyncio.Event = done) -> float:
                started = time.perf_counter()
                await send()
                while await service.store.pending_messages():  # noqa: ASYNC110 (no event across the store)
                    await asyncio.sleep(0.05)
                done.set()
                return time.perf_counter() - started

            (gap, cpu), took = await asyncio.gather(worst_gap(done), flow())
            print(
                f"{name:14} {len(raw) / 1e6:6.1f} MB: worst stall {gap * 1000:7.1f} ms "
                f"({gap / max(idle, 1e-3):.1f}x floor), loop thread CPU {cpu * 1000:6.1f} ms; "
                f"captured and analysed in {took:.1f} s"
            )
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
