"""The merge_tags check on realistic rendered mail: every syntax found at its line, clean
twins silent, the false-positive traps (CSS, JS, JSON-LD, MSO comments, footnotes) silent."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest

from mailqa.checks import build_checks
from mailqa.checks.merge_tags import analyse, find_placeholders
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import CheckResult, Finding, Severity, Status
from mailqa.resources import check_context
from mailqa.settings import Settings

HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Your Fernway order</title>
  <style>
    body {{ margin: 0; }} .btn {{ color: #fff; }}
    @media (max-width: 600px) {{ .col {{ width: 100% !important; }} }}
  </style>
  <script type="application/ld+json">
  {{"@context": "https://schema.org", "@type": "Order", "orderNumber": "FW-20931",
    "merchant": {{"@type": "Organization", "name": "Fernway"}}}}
  </script>
  <!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch>
  </o:OfficeDocumentSettings></xml><![endif]-->
</head>
<body style="margin:0;background:#eef1ed">
  <div style="display:none;max-height:0;overflow:hidden">{preheader}</div>
  <table role="presentation" width="100%" style="font-family:Arial,sans-serif">
    <tr><td style="padding:20px">
      <p style="font-size:16px">{greeting}</p>
      <p>Thanks for your order FW-20931 of 3 March 2026. Total: $129.00 [1]</p>
      <p>The manual [PDF, 2 MB] is attached; "the {{ sic }} text" is quoted [sic].</p>
      <img src="https://img.fernway.example/hero.png" alt="{alt}" width="600" height="200">
      <!--[if mso]>
      <v:roundrect href="{vml_href}" style="height:40px;v-text-anchor:middle;width:200px"
        arcsize="10%" fillcolor="#1f2d24"><center>Track it</center></v:roundrect>
      <![endif]-->
      <a href="{href}" class="btn" style="background:#1f2d24;color:#fff">Track your order</a>
      <p>{body}</p>
    </td></tr>
  </table>
  <script>var config = {{ user: "x", items: [1, 2] }}; function f() {{ return `${{a}}`; }}</script>
</body>
</html>
"""

FILLED = {
    "preheader": "Your order ships tomorrow, Ann",
    "greeting": "Hi Ann,",
    "alt": "Ann's new pack",
    "vml_href": "https://fernway.example/track/FW-20931",
    "href": "https://fernway.example/track/FW-20931?utm_source=email",
    "body": "Questions? Reply to this email, Ann. We ship Monday to Friday.",
}

TEXT = """Hi Ann,

Thanks for your order FW-20931 of 3 March 2026. Total: $129.00 [1]
Track it: https://fernway.example/track/FW-20931
The manual [PDF, 2 MB] is attached.
"""


def mail(
    subject: str = "Your Fernway order FW-20931", text: str | None = TEXT, **html: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Fernway <orders@fernway.example>"
    msg["To"] = "ann@customer.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = "<o-20931@fernway.example>"
    if text is not None:
        msg.set_content(text)
    msg.add_alternative(HTML.format(**{**FILLED, **html}), subtype="html")
    return msg.as_bytes()


def check(raw: bytes) -> CheckResult:
    return analyse(ParsedMessage(raw))


def line_of(source: str, needle: str) -> int:
    index = source.index(needle)
    return source.count("\n", 0, index) + 1


def only(result: CheckResult, rule: str) -> Finding:
    found = [f for f in result.findings if f.rule == rule]
    assert len(found) == 1, [(f.rule, f.title) for f in result.findings]
    return found[0]


def test_the_rendered_mail_is_clean() -> None:
    result = check(mail())
    assert result.status == Status.PASSED, [f.title for f in result.findings]
    assert result.findings == [] and result.details["occurrences"] == 0
    assert result.summary == "no template variables or empty substitutions"


# (leftover as the renderer left it, the variable the report names)
SYNTAXES = {
    "handlebars": ("{{ first_name }}", "first_name"),
    "handlebars-filter": ('{{ user.first_name | default: "there" }}', "user.first_name"),
    "triple-stash": ("{{{ first_name }}}", "first_name"),
    "liquid-tag": ("{% if customer.vip %}", "customer.vip"),
    "mailchimp": ("*|FNAME|*", "FNAME"),
    "mailgun": ("%recipient.first_name%", "recipient.first_name"),
    "ampscript": ("%%FirstName%%", "FirstName"),
    "bracket": ("[FirstName]", "FirstName"),
    "bracket-spaced": ("[First Name]", "First Name"),
    "campaign-monitor": ("[firstname,fallback=there]", "firstname"),
    "freemarker": ("${customer.firstName}", "customer.firstName"),
    "pug": ("#{user.name}", "user.name"),
    "erb": ("<%= @user.first_name %>", "@user.first_name"),
    "double-bracket": ("[[first_name]]", "first_name"),
    "smarty": ("{$firstname}", "firstname"),
}


@pytest.mark.parametrize("syntax", sorted(SYNTAXES))
def test_each_syntax_in_the_html_text_is_found_at_its_line(syntax: str) -> None:
    leftover, variable = SYNTAXES[syntax]
    greeting = f"Hi {leftover},"
    raw = mail(greeting=greeting)
    result = check(raw)
    finding = only(result, "merge_tags.unreplaced")
    assert finding.severity == Severity.WARNING and result.status == Status.WARNING
    html = ParsedMessage(raw).html or ""
    location = finding.locations[0]
    assert location.part == "html"
    assert location.line == line_of(html, greeting)
    line_text = html.split("\n")[location.line - 1]
    assert location.column == line_text.index(leftover) + 1
    assert leftover[:10] in (location.snippet or "")
    assert finding.data["variable"] == variable and finding.data["count"] == 1
    assert finding.data["where"] == ["html text"]
    assert [v["name"] for v in result.details["variables"]] == [variable]


@pytest.mark.parametrize("syntax", sorted(SYNTAXES))
def test_each_syntax_in_the_text_part_is_found_at_its_line(syntax: str) -> None:
    leftover, variable = SYNTAXES[syntax]
    text = TEXT.replace("Hi Ann,", f"Hi {leftover},")
    result = check(mail(text=text))
    finding = only(result, "merge_tags.unreplaced")
    location = finding.locations[0]
    assert (location.part, location.line, location.column) == ("text", 1, 4)
    assert finding.data["variable"] == variable


@pytest.mark.parametrize("syntax", sorted(SYNTAXES))
def test_each_syntax_in_the_subject_is_an_error(syntax: str) -> None:
    leftover, variable = SYNTAXES[syntax]
    result = check(mail(subject=f"{leftover}, your order has shipped"))
    finding = only(result, "merge_tags.unreplaced-subject")
    assert finding.severity == Severity.ERROR and result.status == Status.FAILED
    location = finding.locations[0]
    assert location.part == "headers" and location.column == len("Subject: ") + 1
    assert location.line is not None and location.line >= 1
    assert (location.snippet or "").startswith("Subject: ")
    assert finding.data["variable"] == variable


def test_a_placeholder_in_a_link_is_an_error_wherever_the_link_is() -> None:
    raw = mail(
        href="https://fernway.example/track/{{ order.id }}?u=%7B%7Buser_id%7D%7D",
        vml_href="https://fernway.example/track/*|ORDER_ID|*",
        text=TEXT.replace("FW-20931\nThe", "%recipient.order%\nThe"),
    )
    result = check(raw)
    links = [f for f in result.findings if f.rule == "merge_tags.unreplaced-link"]
    assert {f.data["variable"] for f in links} == {
        "order.id",
        "user_id",
        "ORDER_ID",
        "recipient.order",
    }
    assert all(f.severity == Severity.ERROR for f in links) and result.status == Status.FAILED
    html = ParsedMessage(raw).html or ""
    by_variable = {f.data["variable"]: f.locations[0] for f in links}
    assert by_variable["order.id"].line == line_of(html, "{{ order.id }}")
    assert by_variable["ORDER_ID"].line == line_of(html, "*|ORDER_ID|*")  # inside <!--[if mso]>
    assert (by_variable["recipient.order"].part, by_variable["recipient.order"].line) == (
        "text",
        4,
    )


def test_attributes_and_the_preheader_are_read() -> None:
    raw = mail(alt="{{ product_name }}", preheader="Your order ships tomorrow, *|FNAME|*")
    result = check(raw)
    by_variable = {f.data["variable"]: f for f in result.findings}
    assert by_variable["product_name"].data["where"] == ["img alt"]
    assert by_variable["product_name"].rule == "merge_tags.unreplaced"
    assert by_variable["FNAME"].data["where"] == ["preheader"]
    html = ParsedMessage(raw).html or ""
    assert by_variable["FNAME"].locations[0].line == line_of(html, "*|FNAME|*")


def test_repeated_leftovers_are_one_finding_with_a_count() -> None:
    body = "Hi {{ name }}. " + " ".join("Again {{ name }}." for _ in range(4))
    result = check(mail(body=body))
    finding = only(result, "merge_tags.unreplaced")
    assert finding.data["count"] == 5 and len(finding.locations) == 5
    assert "(5 times)" in finding.title
    assert result.details["variables"] == [
        {"name": "name", "syntax": "{{ }}", "count": 5, "where": ["html text"]}
    ]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("greeting", "Hi ,"),
        ("greeting", "Hi <b></b>, welcome back"),
        ("greeting", "Hallo !"),
        ("greeting", "Bonjour ,"),
        ("greeting", "Dear  Smith,"),
        ("body", "Thanks , we got your order."),
    ],
)
def test_empty_substitutions_in_the_html(where: str, value: str) -> None:
    raw = mail(**{where: value})
    result = check(raw)
    finding = only(result, "merge_tags.empty-substitution")
    assert finding.severity == Severity.WARNING
    html = ParsedMessage(raw).html or ""
    assert finding.locations[0].line == line_of(html, value)


def test_empty_substitutions_in_the_text_part_and_the_subject() -> None:
    text = TEXT.replace("Hi Ann,", "Dear  Smith,").replace("Thanks for", "Hola , thanks for")
    result = check(mail(text=text, subject="Welcome , your account is ready"))
    empty = only(result, "merge_tags.empty-substitution")
    assert [(loc.part, loc.line, loc.column) for loc in empty.locations] == [
        ("text", 1, 1),
        ("text", 3, 1),
    ]
    assert only(result, "merge_tags.unreplaced-subject").severity == Severity.ERROR


TRAPS = [
    "Total: $129.00 [1] incl. VAT [2]",
    "The manual [PDF, 2 MB] and the terms [sic] apply [Update] [Date] [EXTERNAL]",
    "Hi, thanks for your order. Hello! Dear customer, welcome.",
    "Bonjour ! Merci ! Bienvenue chez Fernway. Hi :) Hello :-)",
    "Save 20% today, 100% cotton, 50%% off is a typo, not a tag.",
    "Price {approx} and a { brace } and set {a, b}.",
    "Email us at help@fernway.example or call +1 (503) 555-0100.",
    "Use code SPRING-20 at checkout; order #FW-20931 ships in 2-3 days.",
]


@pytest.mark.parametrize("body", TRAPS)
def test_false_positive_traps_are_silent(body: str) -> None:
    result = check(mail(body=body, text=TEXT + "\n" + body + "\n"))
    assert result.findings == [], [f.title for f in result.findings]


def test_css_js_json_ld_style_attributes_and_mso_comments_are_not_read() -> None:
    raw = mail()
    html = ParsedMessage(raw).html or ""
    # The fixture carries braces everywhere a renderer never touches.
    assert "{ margin: 0; }" in html and "`${a}`" in html and '"@context"' in html
    assert "<!--[if mso]>" in html and "[endif]" in html
    styled = mail(body='<span style="color:{{x}}" onclick="f({{y}})">ok</span>')
    assert check(styled).findings == []


def test_the_patterns_find_each_syntax_on_its_own() -> None:
    for leftover, variable in SYNTAXES.values():
        found = list(find_placeholders(f"a {leftover} b"))
        assert [(p.start, p.variable) for p in found] == [(2, variable)], leftover


def test_the_check_runs_by_default_offline_in_the_pipeline() -> None:
    ctx = check_context(Settings(), offline=True)
    checks = build_checks()
    assert "merge_tags" in [c.name for c in checks]
    raw = mail(subject="{{ first_name }}, your order")
    report = asyncio.run(Pipeline(checks).run(ParsedMessage(raw), ctx))
    assert report.checks["merge_tags"].status == Status.FAILED


def test_a_text_only_message_is_checked() -> None:
    msg = EmailMessage()
    msg["From"] = "a@fernway.example"
    msg["To"] = "b@customer.example"
    msg["Subject"] = "Your code"
    msg.set_content("Hello *|FNAME|*,\nyour code is 481516.\n")
    result = check(msg.as_bytes())
    assert only(result, "merge_tags.unreplaced").locations[0].line == 1
