"""A standalone HTML audit report: inline CSS and SVG charts, no scripts, no external files.

Its one ``<style>`` element is the only style it has (no ``style=`` attributes), so served
over HTTP it is allowed by hash (``content_security_policy``) and nothing else is.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from html import escape
from typing import Any

STATUS_COLOURS = {
    "passed": "#2e9e5b",
    "warning": "#e0a526",
    "failed": "#d64545",
    "errored": "#8a5cd1",
    "skipped": "#9aa3ad",
    "unreadable": "#555f6b",
}

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2329;
background:#f4f6f8}
main{max-width:1040px;margin:0 auto;padding:28px 20px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
.muted{color:#66707a}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;
margin:20px 0}
.tile{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px #0001}
.tile b{display:block;font-size:26px}
.card{background:#fff;border-radius:10px;padding:18px 20px;margin:16px 0;
box-shadow:0 1px 2px #0001}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media(max-width:760px){.grid{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%}td,th{padding:5px 8px;text-align:left;
border-bottom:1px solid #eceff2;font-size:14px}th{color:#66707a;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg text{font:12px system-ui,sans-serif;fill:#39424b}
.empty{color:#66707a;font-style:italic}
"""
CSS += "".join(f".s-{status}{{color:{colour}}}" for status, colour in STATUS_COLOURS.items())
CSS += ".s-other{color:#9aa3ad}\n"


def content_security_policy() -> str:
    """The CSP of a served report: its own ``<style>`` element, by hash; nothing else."""
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
    )


def _histogram_svg(histogram: list[dict[str, Any]]) -> str:
    width, height, pad_left, pad_bottom = 460, 220, 36, 28
    peak = max((b["messages"] for b in histogram), default=0) or 1
    bar_w = (width - pad_left - 10) / len(histogram)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        'aria-label="Score distribution">'
    ]
    plot_h = height - pad_bottom - 16
    for i, b in enumerate(histogram):
        h = plot_h * b["messages"] / peak
        x = pad_left + i * bar_w
        y = 16 + plot_h - h
        colour = "#d64545" if b["from"] < 50 else "#e0a526" if b["from"] < 80 else "#2e9e5b"
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
            f'rx="3" fill="{colour}"><title>{b["from"]}–{b["to"]}: {b["messages"]}</title></rect>'
        )
        if b["messages"]:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                f"{b['messages']}</text>"
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" text-anchor="middle">'
            f"{b['from']}</text>"
        )
    parts.append(
        f'<line x1="{pad_left}" y1="{16 + plot_h}" x2="{width - 10}" y2="{16 + plot_h}" '
        'stroke="#c5ccd3"/></svg>'
    )
    return "".join(parts)


def _bars_svg(rows: list[dict[str, Any]], total: int, colour: str, limit: int = 10) -> str:
    rows = rows[:limit]
    if not rows:
        return '<p class="empty">None.</p>'
    label_w, width, row_h = 230, 460, 24
    peak = max(r["messages"] for r in rows) or 1
    height = row_h * len(rows) + 4
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    for i, r in enumerate(rows):
        y = i * row_h + 2
        w = (width - label_w - 60) * r["messages"] / peak
        name = r["name"] if len(r["name"]) <= 34 else r["name"][:33] + "…"
        share = f"{100 * r['messages'] / total:.0f}%" if total else ""
        parts.append(
            f'<text x="0" y="{y + 15}">{escape(name)}<title>{escape(r["name"])}</title></text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
            f'rx="3" fill="{colour}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{r["messages"]} ({share})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _status_bar(statuses: dict[str, int], total: int) -> str:
    if not total:
        return ""
    parts = ['<svg viewBox="0 0 1000 26" width="100%" role="img" aria-label="Overall status">']
    x = 0.0
    for status, n in statuses.items():
        w = 1000 * n / total
        colour = STATUS_COLOURS.get(status, "#9aa3ad")
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="26" fill="{colour}">'
            f"<title>{escape(status)}: {n}</title></rect>"
        )
        x += w
    parts.append("</svg>")
    legend = " · ".join(
        f'<span class="s-{s if s in STATUS_COLOURS else "other"}">■</span> {escape(s)} {n}'
        for s, n in statuses.items()
    )
    return "".join(parts) + f'<p class="muted">{legend}</p>'


def _checks_table(checks: dict[str, dict[str, int]]) -> str:
    statuses = [s for s in STATUS_COLOURS if any(s in c for c in checks.values())]
    head = "".join(f"<th>{escape(s)}</th>" for s in statuses)
    rows = "".join(
        f"<tr><td>{escape(name)}</td>"
        + "".join(f'<td class="n">{counts.get(s, 0)}</td>' for s in statuses)
        + "</tr>"
        for name, counts in checks.items()
    )
    return f"<table><tr><th>check</th>{head}</tr>{rows}</table>"


def _ranked_table(rows: list[dict[str, Any]], what: str) -> str:
    if not rows:
        return '<p class="empty">None.</p>'
    body = "".join(
        f'<tr><td>{escape(r["name"])}</td><td class="n">{r["messages"]}</td></tr>' for r in rows
    )
    return f"<table><tr><th>{escape(what)}</th><th>messages</th></tr>{body}</table>"


def render_html(summary: dict[str, Any], title: str = "Mail audit") -> str:
    total = int(summary["messages"])
    score = summary["score"]
    failed = summary["statuses"].get("failed", 0)
    passed = summary["statuses"].get("passed", 0)
    tiles = [
        ("messages", str(total)),
        ("mean score", "–" if score["mean"] is None else f"{score['mean']:g}"),
        ("passed", f"{passed} ({100 * passed / total:.0f}%)" if total else "0"),
        ("failed", f"{failed} ({100 * failed / total:.0f}%)" if total else "0"),
        ("unreadable", str(summary["unreadable"])),
    ]
    tile_html = "".join(f'<div class="tile"><b>{v}</b>{escape(k)}</div>' for k, v in tiles)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><main>
<h1>{escape(title)}</h1><p class="muted">Generated {generated} by mailqa.</p>
<div class="tiles">{tile_html}</div>
<div class="card"><h2>Overall status</h2>{_status_bar(summary["statuses"], total)}</div>
<div class="grid">
<div class="card"><h2>Score distribution</h2>{_histogram_svg(score["histogram"])}</div>
<div class="card"><h2>Top issues</h2>{_bars_svg(summary["top_rules"], total, "#d64545")}</div>
</div>
<div class="card"><h2>Checks</h2>{_checks_table(summary["checks"])}</div>
<div class="grid">
<div class="card"><h2>Unsupported HTML features</h2>
{_bars_svg(summary["html_unsupported"], total, "#e0a526")}</div>
<div class="card"><h2>Broken links by host</h2>
{_ranked_table(summary["broken_link_hosts"], "host")}</div>
<div class="card"><h2>Blacklisted IPs and domains</h2>
{_ranked_table(summary["blacklisted"], "IP or domain")}</div>
<div class="card"><h2>Authentication failures by domain</h2>
{_ranked_table(summary["auth_failures"], "domain")}</div>
</div>
<div class="card"><h2>Most frequent failing rules</h2>
{_ranked_table(summary["top_rules"], "rule")}</div>
</main></body></html>
"""
