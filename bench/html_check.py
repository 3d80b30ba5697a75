"""Benchmark the html check against the caniemail npm checker on the same templates.

    .venv/bin/python bench/html_check.py [--rounds 5] [--clients gmail.*,outlook.windows]

Needs ``npm install`` in bench/ (caniemail is pinned in bench/package.json). Writes a corpus of
realistic templates (newsletters with <style> and media queries, table layouts, transactional
mails; 5-100 KB) to bench/.cache/html_corpus, runs both checkers on it in the same run, and
prints templates/s for each, the ratio, and where the two disagree on detected features.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))

from mailqa.checks.html import analyse_html  # noqa: E402
from mailqa.checks.html_detect import detect  # noqa: E402
from mailqa.checks.html_detect.engine import css_features  # noqa: E402
from mailqa.core.html import HtmlDocument  # noqa: E402
from mailqa.rules.caniemail import load_clients, load_rules  # noqa: E402

CORPUS = BENCH / ".cache" / "html_corpus"
# Clients the npm checker has data for in every feature (it throws on a gap).
DEFAULT_CLIENTS = ",".join(
    [
        "apple-mail.ios",
        "apple-mail.macos",
        "gmail.desktop-webmail",
        "gmail.android",
        "outlook.windows",
        "outlook.outlook-com",
        "yahoo.desktop-webmail",
    ]
)

NEWSLETTER_CSS = """
  body, table, td, a { -webkit-text-size-adjust: 100%; -ms-text-size-adjust: 100%; }
  table, td { mso-table-lspace: 0pt; mso-table-rspace: 0pt; border-collapse: collapse; }
  img { border: 0; height: auto; line-height: 100%; outline: none; text-decoration: none; }
  a[x-apple-data-detectors] { color: inherit !important; text-decoration: none !important; }
  .wrapper { width: 100%; max-width: 640px; margin: 0 auto; }
  .btn a:hover { background-color: #0b5ed7 !important; }
  .card > td { padding: 24px 32px; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1, h2, h3 { font-family: -apple-system, system-ui, 'Segoe UI', Roboto, sans-serif; margin: 0; }
  p + p { margin-top: 12px; }
  .muted { color: #6c757d; font-size: 13px; letter-spacing: .2px; }
  @media only screen and (max-width: 600px) {
    .wrapper { width: 100% !important; }
    .stack { display: block !important; width: 100% !important; }
    .hide-mobile { display: none !important; max-height: 0; overflow: hidden; }
    .hero img { width: 100% !important; height: auto !important; }
  }
  @media (prefers-color-scheme: dark) {
    body, .bg { background-color: #121212 !important; }
    h1, h2, p { color: #f1f1f1 !important; }
  }
  :root { color-scheme: light dark; supported-color-schemes: light dark; }
"""


def article(i: int, rng: random.Random) -> str:
    ext = rng.choice(["jpg", "png", "gif", "webp"])
    return f"""
<tr><td class="card stack" style="padding: 20px 24px; background-color: #ffffff;" valign="top">
  <table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>
    <td width="180" class="stack" style="padding-right: 16px;">
      <img src="https://cdn.example.com/news/{i}/thumb.{ext}" width="180" height="120"
           alt="Story {i}"
           style="display: block; width: 180px; max-width: 100%; border-radius: 6px;">
    </td>
    <td class="stack" valign="top">
      <h2 style="font-size: 20px; line-height: 1.3em; color: #111;">
        Story number {i}: what changed this week</h2>
      <p style="font-size: 15px; line-height: 24px; color: #333; margin: 8px 0 0;">
        {"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * rng.randint(2, 6)}
      </p>
      <p class="btn" style="margin: 12px 0 0;"><a href="https://example.com/s/{i}?utm_source=nl"
         style="display: inline-block; padding: 10px 18px; background: #0d6efd; color: #fff;
         text-decoration: none; border-radius: 4px; font-weight: 600;">Read more</a></p>
    </td>
  </tr></table>
</td></tr>"""


def newsletter(target: int, rng: random.Random) -> str:
    parts = [
        '<!DOCTYPE html>\n<html lang="en" xmlns="http://www.w3.org/1999/xhtml">\n<head>\n'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width">\n'
        '<meta name="color-scheme" content="light dark">\n<title>Weekly</title>\n'
        f"<style>{NEWSLETTER_CSS}</style>\n"
        "<!--[if mso]><style>table {border-collapse: collapse;}</style><![endif]-->\n"
        '</head>\n<body class="bg" style="margin: 0; padding: 0; background-color: #f4f4f4;">\n'
        '<div style="display: none; max-height: 0; overflow: hidden;">This week in short</div>\n'
        '<center><table role="presentation" class="wrapper" width="640" align="center" '
        'cellpadding="0" cellspacing="0" border="0">\n'
        '<tr><td class="hero" align="center"><a href="#top" name="top"></a>'
        '<img src="https://cdn.example.com/hero.png" width="640" alt="Hero"></td></tr>'
    ]
    i = 0
    while sum(len(p) for p in parts) < target - 800:
        parts.append(article(i, rng))
        i += 1
    parts.append(
        '\n<tr><td class="muted" align="center" style="padding: 24px;">'
        '<a href="mailto:help@example.com">Contact us</a> · '
        '<a href="https://example.com/unsubscribe">Unsubscribe</a></td></tr>'
        "\n</table></center>\n</body>\n</html>\n"
    )
    return "".join(parts)


def transactional(target: int, rng: random.Random) -> str:
    rows = []
    i = 0
    base = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Receipt</title></head>
<body style="margin:0;padding:0;font-family:Arial,Helvetica,sans-serif;">
<table width="100%" cellpadding="0" cellspacing="0" bgcolor="#ffffff"><tr><td align="center">
<table width="600" cellpadding="0" cellspacing="0" style="border:1px solid #e5e5e5;">
<tr><td style="padding:24px;font-size:22px;font-weight:bold;">Your order #{n}</td></tr>
""".replace("{n}", str(rng.randint(1000, 9999)))
    size = len(base)
    while size < target - 400:
        row = (
            f'<tr><td style="padding:8px 24px;border-bottom:1px solid #eee;font-size:14px;">'
            f'Item {i} <span style="color:#888;">× {rng.randint(1, 4)}</span></td>'
            f'<td align="right" style="padding:8px 24px;font-size:14px;">€{rng.randint(5, 200)}.00'
            "</td></tr>\n"
        )
        rows.append(row)
        size += len(row)
        i += 1
    return (
        base
        + "".join(rows)
        + '<tr><td style="padding:24px;"><a href="https://shop.example.com/orders" '
        'style="background-color:#222;color:#fff;padding:12px 20px;text-decoration:none;">'
        "View order</a></td></tr></table></td></tr></table></body></html>\n"
    )


def write_corpus(count: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    CORPUS.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(count):
        target = rng.choice([5_000, 12_000, 25_000, 40_000, 60_000, 100_000])
        kind = "newsletter" if n % 3 else "transactional"
        html = newsletter(target, rng) if kind == "newsletter" else transactional(target, rng)
        path = CORPUS / f"{n:02d}-{kind}-{target // 1000}k.html"
        path.write_text(html, "utf-8")
        files.append(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--templates", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", default=DEFAULT_CLIENTS)
    args = parser.parse_args()
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    files = write_corpus(args.templates)
    sizes = [p.stat().st_size for p in files]
    print(
        f"corpus: {len(files)} templates, {min(sizes) // 1000}-{max(sizes) // 1000} KB "
        f"(median {statistics.median(sizes) / 1000:.0f} KB); clients: {', '.join(clients)}"
    )
    rules = load_rules()
    load_clients()
    sources = {p: p.read_text("utf-8") for p in files}

    analyse_html(next(iter(sources.values())), clients)  # warm-up
    started = time.perf_counter()
    for _ in range(args.rounds):
        for html in sources.values():
            # No reuse across templates: only repeats inside one template hit the CSS cache.
            css_features.cache_clear()
            analyse_html(html, clients)
    ours_s = time.perf_counter() - started
    ours_rate = len(files) * args.rounds / ours_s

    node_in = json.dumps(
        {"files": [str(p) for p in files], "clients": clients, "rounds": args.rounds}
    )
    out = subprocess.run(
        ["node", str(BENCH / "caniemail_runner.mjs")],
        input=node_in,
        capture_output=True,
        text=True,
        cwd=BENCH,
        check=True,
    )
    node = json.loads(out.stdout)
    node_rate = len(files) * args.rounds / node["seconds"]
    count = len(files) * args.rounds
    print(f"mailqa html check: {ours_rate:8.1f} templates/s ({ours_s / count * 1000:.1f} ms each)")
    node_ms = node["seconds"] / count * 1000
    print(f"caniemail (npm):   {node_rate:8.1f} templates/s ({node_ms:.1f} ms each)")
    print(f"ratio mailqa/npm:  {ours_rate / node_rate:8.2f}x")

    by_title = {f.title: slug for slug, f in rules.features.items()}
    target_info = [load_clients().clients[c] for c in clients if c in load_clients().clients]

    def reportable(slug: str) -> bool:
        """Whether some target client lacks full support (the npm checker reports only those)."""
        feature = rules.features[slug]
        for client in target_info:
            support = feature.support.get(client.family, {}).get(client.platform)
            if support is not None and support.value in ("n", "a"):
                return True
        return False

    missed: dict[str, int] = {}
    npm_substring: dict[str, int] = {}
    extra: dict[str, int] = {}
    crashed = 0
    for path, html in sources.items():
        result = node["results"][str(path)]
        if result["error"]:
            crashed += 1
            print(f"  npm checker failed on {path.name}: {result['error']}")
            continue
        theirs = {by_title.get(t, f"?{t}") for t in result["titles"]}
        ours = {
            s for s in detect(HtmlDocument(html)).counts if s in rules.features and reportable(s)
        }
        for slug in theirs - ours:
            if substring_only(slug, html):
                npm_substring[slug] = npm_substring.get(slug, 0) + 1
            else:
                missed[slug] = missed.get(slug, 0) + 1
        for slug in ours - theirs:
            extra[slug] = extra.get(slug, 0) + 1
    print(f"npm checker errors: {crashed} of {len(files)} templates")
    print("features the npm checker reports and mailqa does not (slug: templates):")
    for slug, n in sorted(missed.items()) or [("none", 0)]:
        print(f"  {slug}: {n}")
    print("npm substring matches: the property is only part of a longer one (slug: templates):")
    for slug, n in sorted(npm_substring.items()) or [("none", 0)]:
        print(f"  {slug}: {n}")
    print("features mailqa reports and the npm checker does not (slug: templates):")
    for slug, n in sorted(extra.items()) or [("none", 0)]:
        print(f"  {slug}: {n}")


def substring_only(slug: str, html: str) -> bool:
    """A ``css-PROP`` slug whose property never appears as a whole property name.

    The npm checker matches ``background`` inside ``background-color``; such a report is
    its false positive, not a feature mailqa misses.
    """
    if not slug.startswith("css-"):
        return False
    prop = slug[4:]
    if re.search(rf"(?<![-\w]){re.escape(prop)}\s*:", html, re.I):
        return False
    return re.search(rf"{re.escape(prop)}-[a-z-]+\s*:", html, re.I) is not None


if __name__ == "__main__":
    main()
