"""The links check over HTTP: every URL fetched concurrently through the SSRF-safe
``LinkFetcher`` within a time budget, and the findings its answers give."""

from __future__ import annotations

import asyncio
import time

from mailqa.checks.links.details import LinkResult
from mailqa.checks.links.extract import Target
from mailqa.checks.links.rules import (
    BROKEN,
    IMAGE_BROKEN,
    IMAGE_HUGE,
    IMAGE_NOT_IMAGE,
    REDIRECT_CHAIN,
    REDIRECT_INSECURE,
    REFUSED,
    RESTRICTED,
    TIMEOUT,
)
from mailqa.core.clients import Fetcher, FetchResult
from mailqa.core.report import Finding

LONG_REDIRECT_CHAIN = 3


def http_findings(target: Target, result: LinkResult, image_max: int) -> list[Finding]:
    label = "Image" if target.kind == "image" else "Link"
    out: list[Finding] = []
    if result.error_kind == "refused":
        out.append(
            REFUSED.finding(
                result.error or "",
                title=f"{label} not checked: address refused",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return out
    if result.error_kind in ("timeout", "budget"):
        out.append(
            TIMEOUT.finding(
                result.error or "",
                title=f"{label} did not answer in time",
                locations=target.locations(),
                data=target.data(),
            )
        )
        return out
    rule = IMAGE_BROKEN if target.kind == "image" else BROKEN
    if result.error:
        out.append(
            rule.finding(
                result.error,
                title=f"{label} is broken ({result.error_kind})",
                locations=target.locations(),
                data=target.data(error_kind=result.error_kind),
            )
        )
        return out
    status = result.status_code or 0
    if status in (401, 403, 429):
        out.append(
            RESTRICTED.finding(
                "The server refused the checker; it may need a login or block robots. "
                "Check it by hand.",
                title=f"{label} answered HTTP {status}",
                locations=target.locations(),
                data=target.data(status_code=status),
            )
        )
    elif status >= 400:
        out.append(
            rule.finding(
                f"{result.final_url} answered {status}.",
                title=f"{label} answered HTTP {status}",
                locations=target.locations(),
                data=target.data(status_code=status),
            )
        )
        return out
    for hop, nxt in zip(result.redirects, [*result.redirects[1:], None], strict=False):
        next_url = nxt.url if nxt else result.final_url or ""
        if hop.url.startswith("https://") and next_url.startswith("http://"):
            out.append(
                REDIRECT_INSECURE.finding(
                    f"{hop.url} redirects to {next_url}.",
                    title=f"{label} redirects from https to http",
                    locations=target.locations(),
                    data=target.data(),
                )
            )
            break
    if len(result.redirects) > LONG_REDIRECT_CHAIN:
        out.append(
            REDIRECT_CHAIN.finding(
                " -> ".join([*(h.url for h in result.redirects), str(result.final_url)])[:1000],
                title=f"{label} goes through {len(result.redirects)} redirects",
                locations=target.locations(),
                data=target.data(),
            )
        )
    if target.kind == "image" and status < 400:
        ctype = (result.content_type or "").split(";")[0].strip().lower()
        if not ctype.startswith("image/"):
            out.append(
                IMAGE_NOT_IMAGE.finding(
                    f"Content-Type is {ctype or 'missing'}: clients show a broken image.",
                    locations=target.locations(),
                    data=target.data(content_type=ctype),
                )
            )
        elif result.size is not None and result.size > image_max:
            out.append(
                IMAGE_HUGE.finding(
                    f"Images over {image_max // 1024} KiB load slowly on mobile data; "
                    "resize or compress it.",
                    title=f"Image is {result.size // 1024} KiB or more",
                    locations=target.locations(),
                    data=target.data(size=result.size),
                )
            )
    return out


def apply_fetch(result: LinkResult, fetched: FetchResult) -> None:
    result.checked = True
    result.final_url = fetched.final_url
    result.status_code = fetched.status_code
    result.ok = fetched.ok
    result.redirects = list(fetched.redirects)
    result.error = fetched.error
    result.error_kind = fetched.error_kind
    result.content_type = fetched.content_type
    result.size = fetched.size
    result.method = fetched.method
    result.from_cache = fetched.from_cache
    result.duration_ms = fetched.duration_ms


async def fetch_all(
    fetcher: Fetcher,
    urls: dict[str, str],
    targets: dict[str, Target],
    budget: float,
    scope: str = "",
) -> dict[str, FetchResult]:
    """Fetch every URL concurrently (the fetcher enforces the limits), within ``budget``;
    cached results are reused only within ``scope`` (the message's project)."""
    started = time.monotonic()
    tasks = {
        url: asyncio.create_task(
            fetcher.fetch(fetch_url, image=targets[url].kind == "image", scope=scope)
        )
        for url, fetch_url in urls.items()
    }
    done, pending = await asyncio.wait(tasks.values(), timeout=budget)
    for task in pending:
        task.cancel()
    out: dict[str, FetchResult] = {}
    for url, task in tasks.items():
        if task in done and not task.cancelled() and task.exception() is None:
            out[url] = task.result()
        else:
            reason = (
                f"not checked: the link check's time budget ({budget:g} s) ran out"
                if task in pending
                else f"fetch failed: {task.exception()!r}"
            )
            out[url] = FetchResult(
                url=url,
                error=reason,
                error_kind="budget" if task in pending else "error",
                duration_ms=round((time.monotonic() - started) * 1000, 2),
            )
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return out
