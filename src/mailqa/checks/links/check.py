"""The links check: the static findings always (offline too), HTTP validation when the
context carries a ``LinkFetcher`` and the analysis is online; the summary says when it did
not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from mailqa.checks.headers import is_bulk
from mailqa.checks.links.details import LinkResult, LinksDetails, is_broken
from mailqa.checks.links.http import apply_fetch, fetch_all, http_findings
from mailqa.checks.links.rules import CAP_REACHED, RULES, UNSUBSCRIBE_MISSING
from mailqa.checks.links.static import extract_static, is_unsubscribe
from mailqa.core.budget import in_thread
from mailqa.core.check import CheckContext
from mailqa.core.clients import Fetcher
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Severity
from mailqa.core.rules import CheckRules

# The HTTP part stops at this share of the pipeline's per-check timeout, so the check can
# report what it found instead of being cut off.
HTTP_BUDGET_SHARE = 0.8


@dataclass(frozen=True)
class LinksConfig:
    """What the links check reads of the settings (``MAILQA_LINK_*``, the check timeout)."""

    check_http: bool
    """Validate the links over HTTP (``MAILQA_LINK_CHECK``)."""
    max_urls: int
    image_max_bytes: int
    check_timeout: float
    """The pipeline's per-check timeout: the HTTP part gets ``HTTP_BUDGET_SHARE`` of it."""


class LinksCheck:
    name: ClassVar[str] = "links"
    rules: ClassVar[CheckRules] = RULES
    # Static findings run offline; HTTP validation decides inside (ctx.http, ctx.offline).
    needs_network: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        config = ctx.config(LinksConfig)
        cap = max(config.max_urls, 0)
        # CPU-bound: in a thread, so the event loop (SMTP, API) stays live.
        found, targets, static = await in_thread(extract_static, msg, cap)
        kept, over = targets[:cap], targets[cap:]
        findings = static.findings
        if is_bulk(msg) and not any(is_unsubscribe(t) for t in targets):
            findings.append(
                UNSUBSCRIBE_MISSING.finding(
                    "Mail sent to a list needs a visible unsubscribe link in the body "
                    "(CAN-SPAM, GDPR; Gmail and Yahoo bulk-sender rules)."
                )
            )
        if over:
            findings.append(
                CAP_REACHED.finding(
                    "Raise MAILQA_LINK_MAX_URLS to analyse more.",
                    title=f"{len(over)} URL(s) over the cap of {cap} were not analysed",
                    data={"skipped": len(over)},
                )
            )

        results = {
            t.url: LinkResult(
                url=t.url,
                kind=t.kind,
                scheme=_scheme(static.http_url.get(t.url, t.url)),
                texts=t.texts,
                locations=t.locations(),
                occurrences=len(t.occurrences),
            )
            for t in kept
        }

        fetcher: Fetcher | None = ctx.http
        skipped_reason: str | None = None
        if not config.check_http:
            skipped_reason = "link checking over HTTP is disabled (MAILQA_LINK_CHECK=false)"
        elif ctx.offline:
            skipped_reason = "offline mode"
        elif fetcher is None:
            skipped_reason = "no HTTP fetcher configured"
        cache_hits = 0
        if skipped_reason is None and fetcher is not None and static.http_url:
            budget = max(config.check_timeout * HTTP_BUDGET_SHARE, 1.0)
            by_url = {t.url: t for t in kept}
            fetched = await fetch_all(fetcher, static.http_url, by_url, budget, ctx.scope)
            # Counted from this message's own results: the fetcher's counters also move for
            # other messages checked meanwhile.
            cache_hits = sum(result.from_cache for result in fetched.values())
            image_max = config.image_max_bytes
            for url, result in fetched.items():
                apply_fetch(results[url], result)
                findings += http_findings(by_url[url], results[url], image_max)

        details = LinksDetails(
            links=list(results.values()),
            found=found,
            unique=len(targets),
            skipped=len(over),
            skipped_urls=[t.url[:500] for t in over[:20]],
            http_validated=skipped_reason is None,
            http_skipped_reason=skipped_reason,
            http_checked=sum(r.checked for r in results.values()),
            broken=sum(is_broken(r) for r in results.values()),
            cache_hits=cache_hits,
        )
        return self._result(findings, details)

    def _result(self, findings: list[Finding], details: LinksDetails) -> CheckResult:
        errors = sum(f.severity == Severity.ERROR for f in findings)
        warnings = sum(f.severity == Severity.WARNING for f in findings)
        images = sum(r.kind == "image" for r in details.links)
        parts = [f"{len(details.links) - images} link(s), {images} image(s)"]
        if details.http_validated:
            parts.append(f"{details.http_checked} checked over HTTP, {details.broken} broken")
        else:
            parts.append(f"HTTP validation skipped ({details.http_skipped_reason}); static only")
        parts.append(f"{errors} error(s), {warnings} warning(s)")
        if details.skipped:
            parts.append(f"{details.skipped} over the cap not analysed")
        return CheckResult.from_findings(
            self.name,
            findings,
            RULES.penalties,
            summary="; ".join(parts),
            details=details.model_dump(mode="json"),
        )


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""
