"""Report sections for the checks the UI renders specially, in the shapes those checks store.

The browser tests run the real offline checks (headers, links, spam through a real spamd, and
html/hygiene when built in); the network checks (auth, blacklist) cannot run offline, so their
sections are built here from the documented details models and merged into the stored report.
"""

from __future__ import annotations

from typing import Any

from mailqa.core.report import CheckResult, Finding, Location, Severity, Status

CLIENTS = ["Apple Mail (macOS)", "Gmail (desktop webmail)", "Outlook (Windows)", "Yahoo! Mail"]


def html_section(flex_line: int, text: str = "") -> CheckResult:
    """Client support: each finding carries its clients' support (y/a/n) and notes."""

    def clients(*support: str, note: str = "") -> list[dict[str, Any]]:
        return [
            {"client": c, "support": s, "notes": [note] if note and s != "y" else []}
            for c, s in zip(CLIENTS, support, strict=True)
        ]

    return CheckResult(
        name="html",
        status=Status.WARNING,
        summary=f"2 features with partial or no support{text}",
        score=71.5,
        findings=[
            Finding(
                rule="css-display-flex",
                title=f"display:flex{text}",
                severity=Severity.WARNING,
                message=f"Not supported by Outlook on Windows.{text}",
                category="css",
                url="https://www.caniemail.com/features/css-display-flex/",
                locations=[Location(part="html", line=flex_line, column=4, snippet="display:flex")],
                data={"clients": clients("y", "y", "n", "a", note="Ignored inside tables.")},
            ),
            Finding(
                rule="html-svg",
                title="<svg> elements",
                severity=Severity.INFO,
                locations=[Location(part="html", line=flex_line + 2)],
                data={"clients": clients("y", "n", "n", "y", note="Stripped.")},
            ),
        ],
        details={
            "client_scores": {c: s for c, s in zip(CLIENTS, (100, 50, 0, 75), strict=True)},
            "market_weighted_score": 68.0,
        },
    )


def blacklist_section(
    text: str = "", delist: str = "https://www.spamhaus.org/lookup/"
) -> CheckResult:
    return CheckResult(
        name="blacklist",
        status=Status.FAILED,
        summary="Listed on 1 of 3 lists",
        score=40,
        findings=[
            Finding(
                rule="dnsbl-listed",
                title=f"IP listed on Spamhaus ZEN{text}",
                severity=Severity.ERROR,
                message=f"127.0.0.2 — SBL{text}",
            )
        ],
        details={
            "results": [
                {
                    "name": "Spamhaus ZEN",
                    "zone": "zen.spamhaus.org",
                    "target": "203.0.113.9",
                    "listed": True,
                    "reason": f"SBL listing{text}",
                    "delist_url": delist,
                },
                {
                    "name": "SpamCop",
                    "zone": "bl.spamcop.net",
                    "target": "203.0.113.9",
                    "listed": False,
                },
                {
                    "name": "PSBL",
                    "zone": "psbl.surriel.com",
                    "target": "203.0.113.9",
                    "listed": False,
                },
            ]
        },
    )


def auth_section(text: str = "") -> CheckResult:
    return CheckResult(
        name="auth",
        status=Status.FAILED,
        summary="SPF pass, DKIM fail, DMARC fail",
        score=30,
        findings=[
            Finding(
                rule="dmarc-fail",
                title="DMARC fails",
                severity=Severity.ERROR,
                message=f"No aligned pass{text}",
            )
        ],
        details={
            "spf": {
                "result": "pass",
                "identity": "mailfrom",
                "domain": "acme.example",
                "reason": f"203.0.113.9 is allowed by ip4:203.0.113.0/24{text}",
            },
            "dkim": [
                {
                    "index": 0,
                    "domain": "acme.example",
                    "selector": "s1",
                    "result": "fail",
                    "reason": "body hash did not verify",
                    "aligned": True,
                }
            ],
            "dkim_result": "fail",
            "dmarc": {
                "result": "fail",
                "from_domain": "acme.example",
                "policy": "reject",
                "spf_aligned": False,
                "dkim_aligned": False,
                "reason": "neither SPF nor DKIM passed aligned",
            },
            "arc": {"result": "none", "instances": 0, "reason": ""},
        },
    )


def hygiene_section(line: int, text: str = "") -> CheckResult:
    return CheckResult(
        name="hygiene",
        status=Status.WARNING,
        summary="1 image without alt text",
        score=90,
        findings=[
            Finding(
                rule="img-missing-alt",
                title=f"Image without alt text{text}",
                severity=Severity.WARNING,
                message="Screen readers and image-blocking clients show nothing.",
                locations=[Location(part="html", line=line, snippet=f'<img src="cid:logo">{text}')],
            )
        ],
    )
