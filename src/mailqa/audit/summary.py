"""Aggregate audit records into a summary, and write it as text, JSON or CSV.

The aggregator holds counters only, so it costs the same for ten messages or a million.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

from mailqa.audit.record import UNREADABLE, AuditRecord

HISTOGRAM_BINS = 10  # 0-10, 10-20, ... 90-100
TOP = 20


class AuditSummary:
    def __init__(self) -> None:
        self.messages = 0
        self.statuses: Counter[str] = Counter()
        self.checks: dict[str, Counter[str]] = {}
        self.histogram = [0] * HISTOGRAM_BINS
        self.unscored = 0
        self.score_total = 0.0
        self.score_min: float | None = None
        self.score_max: float | None = None
        self.rules: Counter[str] = Counter()
        self.html_unsupported: Counter[str] = Counter()
        self.blacklisted: Counter[str] = Counter()
        self.auth_failures: Counter[str] = Counter()
        self.broken_link_hosts: Counter[str] = Counter()
        self.duration_ms_total = 0.0

    def add(self, record: AuditRecord) -> None:
        self.messages += 1
        self.statuses[record.status] += 1
        for name, status in record.checks.items():
            self.checks.setdefault(name, Counter())[status] += 1
        if record.score is None:
            self.unscored += 1
        else:
            score = max(0.0, min(100.0, record.score))
            self.histogram[min(int(score // 10), HISTOGRAM_BINS - 1)] += 1
            self.score_total += score
            self.score_min = score if self.score_min is None else min(self.score_min, score)
            self.score_max = score if self.score_max is None else max(self.score_max, score)
        self.rules.update(record.rules)
        self.html_unsupported.update(record.html_unsupported)
        self.blacklisted.update(record.blacklisted)
        self.auth_failures.update(record.auth_failures)
        self.broken_link_hosts.update(record.broken_link_hosts)
        self.duration_ms_total += record.duration_ms

    def add_all(self, records: Iterable[AuditRecord]) -> AuditSummary:
        for record in records:
            self.add(record)
        return self

    @property
    def scored(self) -> int:
        return self.messages - self.unscored

    def to_dict(self, top: int = TOP) -> dict[str, Any]:
        def ranked(counter: Counter[str]) -> list[dict[str, Any]]:
            return [{"name": k, "messages": v} for k, v in counter.most_common(top)]

        return {
            "messages": self.messages,
            "unreadable": self.statuses.get(UNREADABLE, 0),
            "statuses": dict(self.statuses.most_common()),
            "checks": {
                name: {status: counts[status] for status in sorted(counts)}
                for name, counts in sorted(self.checks.items())
            },
            "score": {
                "mean": round(self.score_total / self.scored, 1) if self.scored else None,
                "min": self.score_min,
                "max": self.score_max,
                "unscored": self.unscored,
                "histogram": [
                    {"from": i * 10, "to": i * 10 + 10, "messages": n}
                    for i, n in enumerate(self.histogram)
                ],
            },
            "top_rules": ranked(self.rules),
            "html_unsupported": ranked(self.html_unsupported),
            "blacklisted": ranked(self.blacklisted),
            "auth_failures": ranked(self.auth_failures),
            "broken_link_hosts": ranked(self.broken_link_hosts),
        }


def render_text(summary: dict[str, Any]) -> str:
    lines = [f"Messages audited: {summary['messages']}"]
    if summary["unreadable"]:
        lines.append(f"Unreadable: {summary['unreadable']}")
    statuses = ", ".join(f"{k} {v}" for k, v in summary["statuses"].items())
    lines.append(f"Overall: {statuses or '-'}")
    score = summary["score"]
    if score["mean"] is not None:
        lines.append(f"Score: mean {score['mean']}, min {score['min']}, max {score['max']}")
    if summary["checks"]:
        lines += ["", "Per check:"]
        for name, counts in summary["checks"].items():
            parts = ", ".join(f"{status} {n}" for status, n in counts.items())
            lines.append(f"  {name:<12} {parts}")
    sections = [
        ("Most frequent failing rules", "top_rules"),
        ("Unsupported HTML features", "html_unsupported"),
        ("Blacklisted IPs and domains", "blacklisted"),
        ("Authentication failures by domain", "auth_failures"),
        ("Broken links by host", "broken_link_hosts"),
    ]
    for title, key in sections:
        if summary[key]:
            lines += ["", f"{title}:"]
            lines += [f"  {row['messages']:>7}  {row['name']}" for row in summary[key][:10]]
    return "\n".join(lines) + "\n"


def write_json(summary: dict[str, Any], out: IO[str]) -> None:
    json.dump(summary, out, indent=2)
    out.write("\n")


CSV_COLUMNS = [
    "key",
    "message_id",
    "subject",
    "from",
    "status",
    "score",
    "checks",
    "rules",
    "html_unsupported",
    "blacklisted",
    "auth_failures",
    "broken_link_hosts",
    "error",
]


def csv_row(r: AuditRecord) -> list[Any]:
    """One message's CSV row; list columns are ``;``-separated."""
    return [
        r.key,
        "" if r.message_id is None else r.message_id,
        r.subject or "",
        r.from_ or "",
        r.status,
        "" if r.score is None else r.score,
        ";".join(f"{k}={v}" for k, v in r.checks.items()),
        ";".join(r.rules),
        ";".join(r.html_unsupported),
        ";".join(r.blacklisted),
        ";".join(r.auth_failures),
        ";".join(r.broken_link_hosts),
        r.error or "",
    ]


def write_csv(records: Iterable[AuditRecord], out: IO[str]) -> int:
    """One row per message. Returns the rows written."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = 0
    for record in records:
        writer.writerow(csv_row(record))
        rows += 1
    return rows
