"""The hygiene check: each rule on the HTML that deserves it, with positions; bad input."""

from __future__ import annotations

import asyncio
import re
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailqa.checks import build_checks
from mailqa.checks.hygiene import GMAIL_CLIP_BYTES, HygieneCheck, HygieneDetails, analyse
from mailqa.core.check import CheckContext
from mailqa.core.html import PREVIEW_CHARS, HtmlDocument
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import CheckResult
from mailqa.resources import check_context
from mailqa.settings import Settings

CLEAN = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Receipt</title></head>
<body>
<div style="display:none;max-height:0;overflow:hidden">Your receipt for order 42</div>
<table role="presentation" width="600">
<tr><td><img src="https://cdn.shop.example/logo.png" alt="Shop" width="120" height="40"></td></tr>
<tr><td><p>Thanks for your order. It ships tomorrow and arrives within three days.</p>
<p>Questions? Reply to this email or visit our help centre.</p></td></tr>
</table>
</body>
</html>
"""


def message(html: str, text: str | None = "Thanks for your order.") -> ParsedMessage:
    msg = EmailMessage()
    msg["From"] = "shop@shop.example"
    msg["To"] = "a@example.com"
    msg["Subject"] = "Receipt"
    if text is not None:
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html, subtype="html")
    return ParsedMessage(msg.as_bytes())


def run(html: str, text: str | None = "Thanks for your order.") -> CheckResult:
    return asyncio.run(HygieneCheck().run(message(html, text), check_context(Settings())))


def by_rule(result: CheckResult) -> dict[str, object]:
    return {f.rule: f for f in result.findings}


def test_clean_template_passes() -> None:
    result = run(CLEAN)
    assert result.status.value == "passed", [f.rule for f in result.findings]
    assert result.score == 100
    assert result.details["images"] == 1


def test_no_html_part_is_skipped() -> None:
    msg = ParsedMessage(b"From: a@b.example\r\nSubject: x\r\n\r\nplain\r\n")
    result = asyncio.run(HygieneCheck().run(msg, check_context(Settings())))
    assert result.status.value == "skipped"


@pytest.mark.parametrize(
    ("snippet", "rule", "severity"),
    [
        ('<img src="https://x.example/a.png" alt="a">', "img-missing-dimensions", "warning"),
        ("<script>alert(1)</script>", "script", "error"),
        ('<form action="https://x.example"><input name="q"></form>', "form", "error"),
        ('<iframe src="https://x.example"></iframe>', "iframe", "error"),
        ('<object data="x.swf"></object>', "embedded-object", "error"),
        (
            '<link rel="stylesheet" href="https://x.example/a.css">',
            "external-stylesheet",
            "warning",
        ),
        (
            '<img src="data:image/png;base64,iVBORw0KGgo=" alt="" width="2" height="2">',
            "base64-image",
            "warning",
        ),
        (
            '<img src="https://t.example/o.gif" width="1" height="1" alt="">',
            "tracking-pixel",
            "info",
        ),
        ('<p id="x">a</p><p id="x">b</p>', "markup-duplicate-id", "warning"),
        ("<p>intro<div>block</div></p>", "markup-invalid-nesting", "warning"),
        (
            '<a href="https://a.example">one <a href="https://b.example">two</a></a>',
            "markup-nested-link",
            "warning",
        ),
        ("<div><span>never closed</div>", "markup-unclosed", "warning"),
        ("<div>fine</div></span>", "markup-stray-end-tag", "warning"),
    ],
)
def test_rule_fires_with_its_line(snippet: str, rule: str, severity: str) -> None:
    html = CLEAN.replace("</table>", f"</table>\n{snippet}")
    result = run(html)
    finding = by_rule(result).get(f"hygiene.{rule}")
    assert finding is not None, [f.rule for f in result.findings]
    assert finding.severity.value == severity  # type: ignore[attr-defined]
    line = CLEAN.split("\n").index("</table>") + 2
    assert finding.locations and finding.locations[0].line == line  # type: ignore[attr-defined]
    if severity == "error":
        assert result.status.value == "failed"


def test_document_level_rules() -> None:
    bare = "<html><body><p>" + "Hello there. " * 10 + "</p></body></html>"
    rules = set(by_rule(run(bare)))
    assert {"hygiene.missing-doctype", "hygiene.missing-preheader"} <= rules
    # lang, <title> and alt text are the accessibility check's (their former hygiene ids
    # still work in ignores and baselines: tests/gate/test_baseline_and_ignores.py).
    assert not {"hygiene.missing-lang", "hygiene.missing-title"} & rules


def test_gmail_clipping_threshold() -> None:
    filler = "<p>" + "x" * 1000 + "</p>\n"
    under = CLEAN.replace("</table>", "</table>" + filler * 95)
    over = CLEAN.replace("</table>", "</table>" + filler * 110)
    assert "hygiene.gmail-clipping" not in by_rule(run(under))
    assert "hygiene.near-gmail-clipping" in by_rule(run(under))
    result = run(over)
    clip = by_rule(result)["hygiene.gmail-clipping"]
    assert clip.data["threshold"] == GMAIL_CLIP_BYTES  # type: ignore[attr-defined]
    assert clip.data["bytes"] > GMAIL_CLIP_BYTES  # type: ignore[attr-defined]
    assert result.status.value == "failed"


def test_image_only_mail_and_text_part() -> None:
    images = "".join(
        f'<img src="https://x.example/{i}.png" alt="" width="600" height="300">' for i in range(4)
    )
    html = CLEAN.replace(
        "<tr><td><p>Thanks for your order. It ships tomorrow and arrives within three days.</p>\n"
        "<p>Questions? Reply to this email or visit our help centre.</p></td></tr>",
        f"<tr><td>{images}</td></tr>",
    )
    assert "hygiene.image-only" in by_rule(run(html))
    assert "hygiene.text-part-empty" in by_rule(run(CLEAN, text="   "))
    long_html = CLEAN.replace("</table>", "</table><p>" + "Many more words here. " * 60 + "</p>")
    assert "hygiene.text-part-short" in by_rule(run(long_html, text="Short."))


FIXTURES = Path(__file__).parent / "fixtures"


def test_mjml_layout_text_is_visible() -> None:
    """MJML zeroes the font size on every column and cell wrapper and sets it again on the
    text: the text is visible, the preheader is the mj-preview, and the mail is not
    image-only. mjml-order.html is mjml-order.mjml compiled by mjml 4.18."""
    mjml = (FIXTURES / "mjml-order.mjml").read_text()
    texts = [
        " ".join(body.split())
        for body in re.findall(r"<mj-(?:text|button)\b[^>]*>(.*?)</mj-", mjml, re.S)
    ]
    (preheader,) = re.findall(r"<mj-preview>(.*?)</mj-preview>", mjml)
    html = (FIXTURES / "mjml-order.html").read_text()
    assert 'style="font-size:0px' in html  # the wrappers this is about
    result = run(html, text=" ".join(texts))
    assert result.details["visible_text_chars"] == sum(map(len, texts))
    assert result.details["preview"] == " ".join(texts)[:PREVIEW_CHARS]
    assert result.details["preheader"] == preheader
    assert "hygiene.image-only" not in by_rule(result)
    assert result.details["content_images"] == 3


AMP_EMAIL = """<!doctype html>
<html ⚡4email lang="en" data-css-strict>
<head>
<meta charset="utf-8">
<script async src="https://cdn.ampproject.org/v0.js"></script>
<script async custom-element="amp-bind" src="https://cdn.ampproject.org/v0/amp-bind-0.1.js"></script>
<script async custom-element="amp-list" src="https://cdn.ampproject.org/v0/amp-list-0.1.js"></script>
<script async custom-template="amp-mustache"
  src="https://cdn.ampproject.org/v0/amp-mustache-0.2.js"></script>
<style amp4email-boilerplate>body{visibility:hidden}</style>
<title>Your order</title>
</head>
<body>
<p [text]="status">Your order 1042 has shipped and arrives on Thursday.</p>
<amp-list src="https://shop.example/orders/1042.json" layout="fixed-height" height="120">
<template type="amp-mustache"><p>{{name}}: {{state}}</p></template>
</amp-list>
</body>
</html>
"""


@pytest.mark.parametrize("attribute", ["⚡4email", "amp4email", "AMP4EMAIL", "⚡", "amp"])
def test_amp_documents_may_load_the_amp_scripts(attribute: str) -> None:
    html = AMP_EMAIL.replace("⚡4email", attribute)
    assert "hygiene.script" not in by_rule(run(html))


@pytest.mark.parametrize(
    "script",
    [
        "<script>alert(1)</script>",
        '<script async src="https://cdn.shop.example/track.js"></script>',
        '<script src="https://cdn.ampproject.org/v0.js"></script>',  # not async
        '<script async src="http://cdn.ampproject.org/v0.js"></script>',
        '<script async src="https://cdn.ampproject.org.evil.example/v0.js"></script>',
        '<script async src="https://cdn.ampproject.org/v0.js?x=1"></script>',
        '<script async src="https://cdn.ampproject.org/v0/amp-bind-0.1.js"></script>',
        '<script async custom-element="amp-list" '
        'src="https://cdn.ampproject.org/v0/amp-bind-0.1.js"></script>',
        '<script async custom-element="amp-bind" src="https://cdn.ampproject.org/v0.js"></script>',
        '<script async custom-element="amp-bind" '
        'src="https://cdn.ampproject.org/v0/amp-bind.js"></script>',
    ],
)
def test_other_scripts_in_amp_documents_are_findings(script: str) -> None:
    html = AMP_EMAIL.replace("</body>", f"{script}\n</body>")
    finding = by_rule(run(html)).get("hygiene.script")
    assert finding is not None
    line = html.split("\n").index(script) + 1
    assert [loc.line for loc in finding.locations] == [line]  # type: ignore[attr-defined]
    assert "AMP" in finding.message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "src",
    [
        "https://cdn.ampproject.org/lts/v0.js",
        "https://cdn.ampproject.org/rtv/012105150310000/v0.js",
        "https://cdn.ampproject.org/v0/amp-bind-latest.js",
        "https://cdn.ampproject.org/lts/v0/amp-bind-0.1.js",
    ],
)
def test_amp_version_paths_are_amp_scripts(src: str) -> None:
    custom = "" if src.endswith("/v0.js") else ' custom-element="amp-bind"'
    script = f'<script async{custom} src="{src}"></script>'
    html = AMP_EMAIL.replace("</head>", f"{script}\n</head>")
    assert "hygiene.script" not in by_rule(run(html))


def test_amp_scripts_in_ordinary_html_are_findings() -> None:
    html = AMP_EMAIL.replace("<html ⚡4email", "<html")
    finding = by_rule(run(html))["hygiene.script"]
    assert finding.data["occurrences"] == 4  # type: ignore[attr-defined]
    assert "Every email client strips scripts" in finding.message  # type: ignore[attr-defined]
    # The attribute counts on <html> only.
    body = html.replace("<body>", '<body amp4email><div amp="">')
    assert by_rule(run(body))["hygiene.script"].data["occurrences"] == 4  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("script", "runs"),
    [
        ('<script type="application/ld+json">{"@type": "EmailMessage"}</script>', False),
        ('<script type="text/x-template"><p>{{ name }}</p></script>', False),
        ("<script>alert(1)</script>", True),
        ('<script type="">alert(1)</script>', True),
        ('<script type="Text/JavaScript; charset=utf-8">alert(1)</script>', True),
        ('<script type="module">import "x"</script>', True),
    ],
)
def test_data_blocks_are_not_scripts(script: str, runs: bool) -> None:
    """Schema.org JSON-LD (Gmail actions) and other types HTML never runs are data."""
    html = CLEAN.replace("</table>", "</table>\n" + script)
    assert ("hygiene.script" in by_rule(run(html))) is runs


def test_locations_are_capped_and_counted() -> None:
    imgs = '<img src="https://x.example/a.png" alt="a">\n' * 50
    finding = by_rule(run(CLEAN.replace("</table>", "</table>\n" + imgs)))[
        "hygiene.img-missing-dimensions"
    ]
    assert len(finding.locations) == 20  # type: ignore[attr-defined]
    assert finding.data["occurrences"] == 50  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "hostile",
    [
        "<div>" * 100_000,
        "<!-- never closed " + "x" * 100_000,
        "<style>" + "a{color:red}" * 800_000,
        "<p " + "a=b " * 50_000,
        "</div>" * 100_000,
        "<table><tr><td>" * 30_000,
        # Quadratic for the stdlib tokenizer or a tree text walk:
        "<div>x" * 100_000,
        "<!" * 1_000_000,
        "&" * 2_000_000,
        "<" * 2_000_000,
        "<div>" + "<span>" * 100_000 + "</div>" * 100_000,
        "<p><div>" * 100_000,
        '<a title="x' + "<b>" * 500_000,
        "<br>" * 300_000,
        "<p>\udcff\ufffd\x00</p>" * 100_000,
        '<div style="font-size:0"><div style="font-size:9px">x' * 50_000,
        '<p style="' + "font-size:0 !important;font: 700 " * 100_000 + '">x',
        "<!-- a -->x<!-- b --!>y" * 100_000,
    ],
    ids=[
        "nested",
        "open-comment",
        "10MB-style",
        "attributes",
        "stray-ends",
        "tables",
        "nested-text",
        "bang-runs",
        "ampersands",
        "lt-runs",
        "deep-stray-ends",
        "p-div",
        "open-quote",
        "300k-tags",
        "broken-encoding",
        "font-size-wrappers",
        "font-declarations",
        "both-comment-ends",
    ],
)
def test_hostile_html_finishes_quickly(hostile: str) -> None:
    doc = HtmlDocument(hostile)
    started = time.perf_counter()
    result = analyse(doc, None)
    assert time.perf_counter() - started < 10  # each takes under 2 s here
    assert result.status.value in ("passed", "warning", "failed")
    for finding in result.findings:
        assert len(finding.locations) <= 20


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "<div>",
                "</div>",
                "<p>",
                "</p>",
                "<a href='x'>",
                "</a>",
                "<img src=x>",
                "<br/>",
                "<!--",
                "-->",
                "<table>",
                "<td>",
                "</span>",
                "text",
                "<script>",
                "<style>",
                "{}",
                "<html lang=en>",
                "<!DOCTYPE html>",
                "&amp;",
                "\n",
                "<",
            ]
        ),
        max_size=60,
    )
)
def test_random_markup_never_crashes(parts: list[str]) -> None:
    result = run("".join(parts))
    assert result.status.value in ("passed", "warning", "failed", "skipped")


def test_embedded_images_report_their_decoded_size() -> None:
    png = "iVBORw0KGgo" + "A" * 1_000 + "="  # 1011 payload characters and one '='
    html = CLEAN.replace(
        "</table>",
        f'</table>\n<img src="data:image/png;base64,{png}" alt="" width="2" height="2">\n'
        '<table background="data:image/gif;base64,R0lGODlh"><tr><td>x</td></tr></table>',
    )
    result = run(html)
    finding = by_rule(result)["hygiene.base64-image"]
    assert finding.data["sizes"] == [1011 * 3 // 4, 6]  # type: ignore[attr-defined]
    assert finding.data["bytes"] == 1011 * 3 // 4 + 6  # type: ignore[attr-defined]
    assert [loc.line for loc in finding.locations] == [11, 12]  # type: ignore[attr-defined]
    assert result.details["embedded_image_bytes"] == 1011 * 3 // 4 + 6


def test_pixels_sized_by_style_are_tracking_pixels_not_content() -> None:
    html = CLEAN.replace(
        "</body>", '<img src="https://t.example/o.gif" style="width:1px;height:1px">\n</body>'
    )
    result = run(html)
    rules = by_rule(result)
    assert "hygiene.tracking-pixel" in rules
    assert "hygiene.img-missing-dimensions" not in rules  # a pixel is no content image
    assert result.details["tracking_pixels"] == 1
    assert result.details["content_images"] == 1


def test_import_in_style_is_an_external_stylesheet() -> None:
    html = CLEAN.replace(
        "</head>", "<style>\n@import url(https://fonts.example/a.css);\n</style></head>"
    )
    finding = by_rule(run(html))["hygiene.external-stylesheet"]
    assert finding.locations[0].line == 4  # type: ignore[attr-defined]
    assert finding.locations[0].snippet.startswith("@import")  # type: ignore[attr-defined]


def test_unterminated_comment_fails_the_check_at_its_line() -> None:
    html = CLEAN.replace("<p>Questions?", "<!-- todo: remove\n<p>Questions?")
    result = run(html)
    finding = by_rule(result)["hygiene.markup-unterminated"]
    assert finding.severity.value == "error"  # type: ignore[attr-defined]
    assert finding.locations[0].line == 9  # type: ignore[attr-defined]
    assert result.status.value == "failed"


def test_table_foster_parenting_is_invalid_nesting() -> None:
    html = CLEAN.replace("<tr><td><img", "<div>wrapper</div>\n<tr><td><img")
    finding = by_rule(run(html))["hygiene.markup-invalid-nesting"]
    assert finding.locations[0].line == 7  # type: ignore[attr-defined]
    assert finding.data["problems"] == [  # type: ignore[attr-defined]
        "<div> directly inside <table>: browsers move it out of the table"
    ]


def test_empty_title_and_preheader_details() -> None:
    result = run(CLEAN.replace("<title>Receipt</title>", "<title> </title>"))
    assert result.details["preheader"] == "Your receipt for order 42"
    assert result.details["preview"].startswith("Thanks for your order.")
    bare = run(CLEAN.replace("display:none;max-height:0;overflow:hidden", "color:#333"))
    missing = by_rule(bare)["hygiene.missing-preheader"]
    assert "Your receipt for order 42" in missing.message  # type: ignore[attr-defined]


def test_too_many_tags_is_reported_as_truncated() -> None:
    result = analyse(HtmlDocument("<!DOCTYPE html><p>" + "<br>" * 250_000), None)
    assert "hygiene.markup-truncated" in by_rule(result)
    assert result.details["markup_truncated"] is True


async def test_runs_in_the_pipeline_with_a_validating_section(ctx: CheckContext) -> None:
    html = CLEAN.replace("</table>", "</table>\n<script>track()</script>")
    report = await Pipeline(build_checks(["hygiene"])).run(message(html), ctx)
    section = report.checks["hygiene"]
    assert section.status.value == "failed"
    assert section.findings[0].rule == "hygiene.script"
    details = HygieneDetails.model_validate(section.details)
    assert details.html_bytes == len(html.encode())
    assert details.images == 1
