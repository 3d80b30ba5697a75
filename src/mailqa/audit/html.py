"""A standalone HTML audit report: inline CSS and SVG charts, no scripts, no external files
but the render sample's PNGs (``--render-sample``), linked relative to the report.

Its one ``<style>`` element is the only style it has (no ``style=`` attributes), so served
over HTTP it is allowed by hash (``content_security_policy``) and nothing else is.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from html import escape
from typing import Any

from mailqa.checks import BUILTIN_CHECKS

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
.note{color:#4a535c;font-size:14px;max-width:80ch}
.bars td,.bars th{padding:3px 8px 3px 0;vertical-align:middle}.bars td{border-bottom:0}
.bars .bar-name{overflow-wrap:anywhere;width:45%}
.bars .bar-track{width:55%;min-width:60px}
.bars .bar-track svg{display:block;width:100%;height:14px}
.bars .bar-value{white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums}
.sample{border-top:1px solid #eceff2;padding-top:12px;margin-top:12px}
.sample h3{font-size:15px;margin:0 0 8px;overflow-wrap:anywhere}
.shots{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.shots figure{margin:0}.shots img{display:block;width:100%;height:auto;
border:1px solid #dde2e7;border-radius:4px}
.shots figcaption{font-size:13px;color:#4a535c;margin-top:4px}
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


def _bars(rows: list[dict[str, Any]], total: int, colour: str, what: str, limit: int = 10) -> str:
    """A bar per row, longest for the most messages. A table: the name, the bar (an SVG that
    stretches over what the other two columns leave) and the count with its share, in a
    column as wide as its longest text, so neither a name nor a count is ever cut."""
    rows = rows[:limit]
    if not rows:
        return '<p class="empty">None.</p>'
    peak = max(r["messages"] for r in rows) or 1
    body = []
    for r in rows:
        length = max(100 * r["messages"] / peak, 0.5)
        share = f" ({100 * r['messages'] / total:.0f}%)" if total else ""
        body.append(
            f'<tr><td class="bar-name">{escape(r["name"])}</td>'
            '<td class="bar-track"><svg viewBox="0 0 100 10" preserveAspectRatio="none" '
            f'aria-hidden="true"><rect width="{length:.1f}" height="10" fill="{colour}"/></svg>'
            f'</td><td class="bar-value">{r["messages"]}{share}</td></tr>'
        )
    head = (
        f'<tr><th>{escape(what)}</th><th class="bar-track"></th>'
        '<th class="bar-value">messages</th></tr>'
    )
    return f'<table class="bars">{head}{"".join(body)}</table>'


def _score_note(checks_run: list[str]) -> str:
    """Why these scores can differ from the badges in a mailqa inbox."""
    ran = ", ".join(escape(c) for c in checks_run) or "none"
    left_out = [escape(c) for c in BUILTIN_CHECKS if c not in checks_run]
    also = f" (which can include {', '.join(left_out)})" if left_out else ""
    return (
        '<p class="note" id="score-note">Scores here come from the checks this audit ran: '
        f"{ran}. The score badge of a message in a mailqa inbox comes from its analysis on "
        f"arrival, with the checks the server runs{also} and with the network: spam scores, "
        "block-list and authentication lookups, links followed over HTTP. An audit leaves "
        "those out unless asked (<code>--checks</code>, <code>--online</code>), so the same "
        "message can score differently here.</p>"
    )


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


def _render_sample(sample: dict[str, Any] | None) -> str:
    """The worst-scoring messages' fold PNGs, each a link to its full-length render."""
    if not sample:
        return ""
    parts = [
        '<div class="card" id="render-sample"><h2>Rendered sample (emulated)</h2>'
        f'<p class="note">The {len(sample["messages"])} message(s) that scored worst, rendered '
        "in headless Chromium with client emulation: an approximation of what mail clients "
        "show, not screenshots of them. Click a render for its full length.</p>"
    ]
    if not sample["messages"]:
        parts.append('<p class="empty">No message had a score to rank.</p>')
    if sample.get("error"):
        parts.append(f'<p class="s-errored">Not rendered: {escape(str(sample["error"]))}</p>')
    for row in sample["messages"]:
        heading = escape(str(row["subject"] or "(no subject)"))
        parts.append(
            f'<div class="sample"><h3>{heading} <span class="muted">score '
            f"{row['score']:g}</span></h3>"
            f'<p class="muted">{escape(str(row["key"]))}</p>'
        )
        if row.get("note"):
            parts.append(f'<p class="empty">{escape(str(row["note"]))}</p>')
        shots = "".join(
            f'<figure><a href="{escape(paths["full"])}"><img src="{escape(paths["fold"])}" '
            f'alt="{escape(variant)} render of {heading}" loading="lazy"></a>'
            f"<figcaption>{escape(variant)}</figcaption></figure>"
            for variant, paths in row["pngs"].items()
        )
        if shots:
            parts.append(f'<div class="shots">{shots}</div>')
        for line in row.get("warnings", []):
            parts.append(f'<p class="s-warning">render warning: {escape(str(line))}</p>')
        for line in row.get("errored", []):
            parts.append(f'<p class="s-errored">render errored: {escape(str(line))}</p>')
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


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
{_score_note(list(summary["checks"]))}
<div class="card"><h2>Overall status</h2>{_status_bar(summary["statuses"], total)}</div>
<div class="grid">
<div class="card"><h2>Score distribution</h2>{_histogram_svg(score["histogram"])}</div>
<div class="card"><h2>Top issues</h2>{_bars(summary["top_rules"], total, "#d64545", "rule")}</div>
</div>
<div class="card"><h2>Checks</h2>{_checks_table(summary["checks"])}</div>
<div class="grid">
<div class="card"><h2>Unsupported HTML features</h2>
{_bars(summary["html_unsupported"], total, "#e0a526", "feature")}</div>
<div class="card"><h2>Broken links by host</h2>
{_ranked_table(summary["broken_link_hosts"], "host")}</div>
<div class="card"><h2>Blacklisted IPs and domains</h2>
{_ranked_table(summary["blacklisted"], "IP or domain")}</div>
<div class="card"><h2>Authentication failures by domain</h2>
{_ranked_table(summary["auth_failures"], "domain")}</div>
</div>
<div class="card"><h2>Most frequent failing rules</h2>
{_ranked_table(summary["top_rules"], "rule")}</div>
{_render_sample(summary.get("render_sample"))}
</main></body></html>
"""
