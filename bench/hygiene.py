# ruff: noqa: E501  (template HTML is kept as written)
"""Hygiene check throughput over generated templates of 5-100 KB.

Two kinds of realistic mail, sized by repeating their content blocks: newsletters (<style>
with media queries, MSO conditional comments, hidden preheader, product cards in nested
tables, social footer) and transactional mails (order table, buttons, tracking pixel).

    .venv/bin/python bench/hygiene.py --templates 300
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from email.message import EmailMessage

from mailqa.checks.hygiene import HygieneCheck
from mailqa.core.message import ParsedMessage
from mailqa.resources import check_context
from mailqa.settings import Settings

HEAD = """<!DOCTYPE html>
<html lang="en" xmlns:v="urn:schemas-microsoft-com:vml">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<!--[if mso]><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch>
</o:OfficeDocumentSettings></xml><![endif]-->
<style>
  body {{ margin: 0; padding: 0; background: #f4f4f4; }}
  .container {{ width: 600px; max-width: 600px; }}
  .btn a {{ display: inline-block; padding: 12px 24px; border-radius: 4px; }}
  @media only screen and (max-width: 620px) {{
    .container {{ width: 100% !important; }}
    .stack {{ display: block !important; width: 100% !important; }}
  }}
  @media (prefers-color-scheme: dark) {{ .card {{ background: #222 !important; }} }}
</style>
</head>
<body style="margin:0;padding:0">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">{preheader}&zwnj;&nbsp;&zwnj;&nbsp;</div>
<center>
<!--[if mso]><table role="presentation" width="600"><tr><td><![endif]-->
<table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0">
<tr><td style="padding:24px"><a href="https://shop.example/"><img src="https://cdn.shop.example/logo.png" width="140" height="40" alt="Shop"></a></td></tr>
"""

CARD = """<tr><td class="card" style="padding:16px;background:#ffffff">
  <table role="presentation" width="100%"><tr>
    <td class="stack" width="50%" valign="top"><img src="https://cdn.shop.example/p/{n}.jpg" width="270" height="270" alt="{name}" style="display:block"></td>
    <td class="stack" width="50%" valign="top" style="font-family:Arial,sans-serif;font-size:16px;line-height:24px;color:#333">
      <h2 style="margin:0 0 8px;font-size:20px">{name}</h2>
      <p style="margin:0 0 16px">Back in stock in every size and colour. {blurb}</p>
      <table role="presentation" class="btn"><tr><td style="background:#0a7a4f;border-radius:4px">
        <a href="https://shop.example/p/{n}?utm_source=news&amp;utm_medium=email" style="color:#fff;text-decoration:none">Shop now</a>
      </td></tr></table>
    </td>
  </tr></table>
</td></tr>
"""

ORDER_ROW = """<tr><td style="padding:8px 0;border-bottom:1px solid #eee">{name}</td>
<td align="right" style="padding:8px 0;border-bottom:1px solid #eee">{qty}</td>
<td align="right" style="padding:8px 0;border-bottom:1px solid #eee">&euro;{price}</td></tr>
"""

FOOTER = """<tr><td style="padding:24px;font-size:12px;color:#777;font-family:Arial,sans-serif">
<p>You receive this because you subscribed at shop.example.
<a href="https://shop.example/unsubscribe?u={n}">Unsubscribe</a> &middot; <a href="https://shop.example/prefs">Preferences</a></p>
<p><a href="https://social.example/shop"><img src="https://cdn.shop.example/s/fb.png" width="24" height="24" alt="Facebook"></a>
<a href="https://social2.example/shop"><img src="https://cdn.shop.example/s/ig.png" width="24" height="24" alt="Instagram"></a></p>
</td></tr>
</table>
<!--[if mso]></td></tr></table><![endif]-->
</center>
<img src="https://t.shop.example/o/{n}.gif" width="1" height="1" alt="" style="display:block">
</body>
</html>
"""

WORDS = (
    "soft", "warm", "light", "linen", "cotton", "summer",
    "autumn", "classic", "slim", "relaxed", "new", "favourite",
)  # fmt: skip


def newsletter(target: int, rng: random.Random) -> str:
    parts = [HEAD.format(title="This week at Shop", preheader="New arrivals and 20% off")]
    size = len(parts[0]) + len(FOOTER)
    while size < target:
        n = rng.randint(1, 99_999)
        blurb = " ".join(rng.choices(WORDS, k=rng.randint(8, 30))).capitalize() + "."
        card = CARD.format(n=n, name=f"{rng.choice(WORDS).title()} shirt {n}", blurb=blurb)
        parts.append(card)
        size += len(card)
    parts.append(FOOTER.format(n=rng.randint(1, 99_999)))
    return "".join(parts)


def transactional(target: int, rng: random.Random) -> str:
    head = HEAD.format(title="Your order", preheader="Order confirmed: arriving Thursday")
    intro = (
        '<tr><td style="padding:16px;font-family:Arial,sans-serif"><p>Thanks for your order. '
        'Here is what you bought:</p><table role="presentation" width="100%">\n'
    )
    rows: list[str] = []
    size = len(head) + len(intro) + len(FOOTER)
    while size < target:
        row = ORDER_ROW.format(
            name=f"{rng.choice(WORDS).title()} item {rng.randint(1, 9999)}",
            qty=rng.randint(1, 5),
            price=f"{rng.uniform(5, 200):.2f}",
        )
        rows.append(row)
        size += len(row)
    close = "</table></td></tr>\n"
    return head + intro + "".join(rows) + close + FOOTER.format(n=rng.randint(1, 99_999))


def message(html: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "news@shop.example", "a@example.com", "News"
    msg.set_content("New arrivals and 20% off this week. " * 20)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--templates", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    messages = []
    for i in range(args.templates):
        make = newsletter if i % 3 else transactional
        messages.append(ParsedMessage(message(make(rng.randint(5_000, 100_000), rng))))
    ctx = check_context(Settings(), offline=True)
    check = HygieneCheck()

    async def run_all() -> list[tuple[int, float, int]]:
        out = []
        for msg in messages:
            started = time.perf_counter()
            result = await check.run(msg, ctx)
            out.append((len(msg.html or ""), time.perf_counter() - started, len(result.findings)))
        return out

    timings = asyncio.run(run_all())
    total = sum(t for _, t, _ in timings)
    kb = sum(size for size, _, _ in timings) / 1024
    print(f"{len(timings)} templates, {kb / len(timings):.0f} KB average HTML")
    print(f"hygiene check: {len(timings) / total:.1f} templates/s, {kb / total:.0f} KB/s")
    for low, high in ((5, 25), (25, 50), (50, 75), (75, 101)):
        band = [t for size, t, _ in timings if low * 1024 <= size < high * 1024]
        if band:
            print(
                f"  {low:>3}-{min(high, 100)} KB: {len(band):3d} templates, "
                f"median {statistics.median(band) * 1000:5.1f} ms, max {max(band) * 1000:5.1f} ms"
            )
    print(f"findings per template (median): {statistics.median(f for _, _, f in timings):.0f}")


if __name__ == "__main__":
    main()
