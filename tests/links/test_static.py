"""Extraction and static findings: no network, so they run in offline mode too."""

from __future__ import annotations

from typing import Any

from mailqa.checks.links.check import LinksCheck
from mailqa.checks.links.details import LinkResult, LinksDetails
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Severity, Status
from mailqa.resources import check_context
from mailqa.settings import Settings


def mail(html: str | None = None, text: str | None = None, headers: str = "") -> ParsedMessage:
    head = f"From: a@acme.com\r\nTo: b@acme.com\r\nSubject: s\r\n{headers}MIME-Version: 1.0\r\n"
    if html is not None and text is not None:
        body = (
            'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
            f"--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
            f"--b\r\nContent-Type: text/html\r\n\r\n{html}\r\n--b--\r\n"
        )
    elif html is not None:
        body = f"Content-Type: text/html\r\n\r\n{html}"
    else:
        body = f"Content-Type: text/plain\r\n\r\n{text or ''}"
    return ParsedMessage((head + body).encode())


async def run(msg: ParsedMessage, **settings: Any) -> tuple[CheckResult, LinksDetails]:
    ctx = check_context(Settings(**settings), offline=True)
    result = await LinksCheck().run(msg, ctx)
    return result, LinksDetails.model_validate(result.details)


def rules(result: CheckResult) -> list[str]:
    return [f.rule for f in result.findings]


def by_url(details: LinksDetails) -> dict[str, LinkResult]:
    return {link.url: link for link in details.links}


EXTRACTION_HTML = """<html><head>
<link rel="stylesheet" href="https://cdn.acme.com/site.css">
<style>
  .hero { background-image: url('https://img.acme.com/hero.jpg'); }
  @import url("https://fonts.acme.com/font.css");
</style></head>
<body background="https://img.acme.com/body.png">
<a href="https://www.acme.com/?a=1&amp;b=2">Shop <b>now</b></a>
<map><area href="https://www.acme.com/area" alt="Area"></map>
<img src="https://img.acme.com/logo.png" alt="Logo"
     srcset="https://img.acme.com/logo@2x.png 2x, https://img.acme.com/logo@3x.png 3x">
<td style="background: url(https://img.acme.com/cell.png)">x</td>
<!--[if mso]>
<v:roundrect href="https://www.acme.com/vml-button"><v:fill src="https://img.acme.com/vml.png"/>
</v:roundrect><![endif]-->
<a href="https://www.acme.com/?a=1&amp;b=2">Again</a>
</body></html>"""


async def test_every_source_of_urls_is_extracted() -> None:
    result, details = await run(mail(EXTRACTION_HTML))
    links = by_url(details)
    expected = {
        "https://cdn.acme.com/site.css": "stylesheet",
        "https://img.acme.com/hero.jpg": "image",
        "https://fonts.acme.com/font.css": "stylesheet",
        "https://img.acme.com/body.png": "image",
        "https://www.acme.com/?a=1&b=2": "link",  # entity decoded
        "https://www.acme.com/area": "link",
        "https://img.acme.com/logo.png": "image",
        "https://img.acme.com/logo@2x.png": "image",
        "https://img.acme.com/logo@3x.png": "image",
        "https://img.acme.com/cell.png": "image",
        "https://www.acme.com/vml-button": "link",
        "https://img.acme.com/vml.png": "image",
    }
    assert {u: link.kind for u, link in links.items()} == expected
    shop = links["https://www.acme.com/?a=1&b=2"]
    assert shop.occurrences == 2 and shop.texts == ["Shop now", "Again"]
    assert [loc.line for loc in shop.locations] == [8, 16]
    assert links["https://img.acme.com/hero.jpg"].locations[0].line == 4
    assert links["https://img.acme.com/vml.png"].locations[0].line == 14
    assert links["https://img.acme.com/logo.png"].texts == ["Logo"]
    assert details.found == 13 and details.unique == 12
    assert result.status == Status.PASSED, rules(result)
    assert "offline" in result.summary and not details.http_validated


async def test_text_part_urls_with_lines_and_merge_with_html() -> None:
    text = "Hello,\n\nReset: https://www.acme.com/reset?t=1.\n(see https://www.acme.com/help)\n"
    html = '<a href="https://www.acme.com/reset?t=1">Reset</a>'
    _, details = await run(mail(html, text))
    links = by_url(details)
    assert set(links) == {"https://www.acme.com/reset?t=1", "https://www.acme.com/help"}
    reset = links["https://www.acme.com/reset?t=1"]
    assert [(loc.part, loc.line) for loc in reset.locations] == [("html", 1), ("text", 3)]


async def test_static_findings() -> None:
    html = """<a href="http://www.acme.com/">insecure</a>
<img src="http://img.acme.com/a.png" alt="">
<a href="javascript:alert(1)">js</a>
<a href="file:///etc/passwd">file</a>
<a href="mailto:not-an-address">mail</a>
<a href="mailto:sales@acme.com?subject=Hi">ok mail</a>
<a href="tel:+1 (555) 010-9999">ok tel</a>
<a href="tel:call-us">bad tel</a>
<a href="http://localhost:8000/reset">dev</a>
<a href="https://10.0.0.5/x">private</a>
<a href="https://app.staging.acme.com/">staging</a>
<a href="https://bit.ly/3abc">short</a>
<a href="https://evil.example-phish.com/login">www.paypal.com</a>
<a href="#missing">jump</a><a href="#here">ok jump</a><p id="here"></p>
<a href="#">nowhere</a>
<a href="mailto:#">placeholder mail</a>
<a href="https://www.acme.com/u/{{user_id}}">tpl</a>
<a href="https://www.acme.com/u/%7B%7Buser%7D%7D">tpl2</a>
<a href="https://www.acme.com/?e=*|EMAIL|*">mc</a>
<a href="https://www.acme.com/[[id]]">sq</a>
<a href="<?= e($settings['company_link']) ?>">php</a>
<a href="mailto:{email}">ps</a><a href="https://www.acme.com/o/%7Border_id%7D">enc</a>
<a href="/relative/path">rel</a>
<a href="https://www.acme.com/a b">space</a>
<a href="https://exa_mple:99999/">port</a>
<img src="data:image/png;base64,iVBORw0KGgo=">
<img src="cid:logo@acme">
<a href="https://www.paypal.com@evil-host.com/login">login</a>
"""
    result, _ = await run(mail(html))
    found = rules(result)
    expected = {
        "links.insecure-link": 2,  # http://www.acme.com and http://localhost
        "links.insecure-image": 1,
        "links.dangerous-scheme": 2,
        "links.invalid-mailto": 2,  # not-an-address, and mailto:# (a bare one: a warning)
        "links.invalid-tel": 1,
        "links.private-host": 2,
        "links.staging-host": 1,
        "links.shortener": 1,
        "links.text-domain-mismatch": 1,
        "links.missing-anchor": 1,
        "links.empty-anchor": 1,
        "links.template-placeholder": 7,
        "links.relative-url": 1,
        "links.invalid-url": 2,
        "links.data-uri-image": 1,
        "links.cid-missing": 1,
        "links.credentials-in-url": 1,
    }
    assert {r: found.count(r) for r in expected} == expected
    assert set(found) == set(expected)
    assert result.status == Status.FAILED
    mailtos = [f.severity for f in result.findings if f.rule == "links.invalid-mailto"]
    assert sorted(mailtos) == sorted([Severity.ERROR, Severity.WARNING])
    mismatch = next(f for f in result.findings if f.rule == "links.text-domain-mismatch")
    assert mismatch.data["shown"] == "paypal.com"
    assert mismatch.data["actual"] == "example-phish.com"
    assert mismatch.locations[0].line == 13
    php = [f for f in result.findings if f.data.get("marker") == "<?"]
    assert len(php) == 1 and php[0].locations[0].line == 21
    single = {f.data["marker"] for f in result.findings if f.rule == "links.template-placeholder"}
    assert {"{email}", "%7Border_id%7D"} <= single


async def test_square_bracket_merge_tags_where_an_address_goes_are_placeholders() -> None:
    html = (
        '<a href="mailto:[mail]">to</a><a href="[unsubscribe_link]">unsub</a>'
        '<a href="https://[domain]/x">host</a>'
        '<a href="https://shop.example.com/list?filter[status]=open">query</a>'
        '<a href="https://[2001:db8::1]/ipv6">v6</a>'
    )
    result, _ = await run(mail(html))
    markers = {f.data["marker"] for f in result.findings if f.rule == "links.template-placeholder"}
    assert markers == {"[mail]", "[unsubscribe_link]", "[domain]"}
    assert "links.invalid-mailto" not in rules(result)


async def test_base_href_resolves_relative_links() -> None:
    html = '<base href="https://www.acme.com/news/"><a href="item/1">x</a>'
    result, details = await run(mail(html))
    assert "https://www.acme.com/news/item/1" in by_url(details)
    assert "links.relative-url" not in rules(result)


async def test_unsubscribe_link_required_in_bulk_mail() -> None:
    bulk = "List-Id: <news.acme.com>\r\n"
    without, _ = await run(mail('<a href="https://www.acme.com/">Shop</a>', headers=bulk))
    assert "links.unsubscribe-missing" in rules(without)
    with_link, _ = await run(
        mail('<a href="https://www.acme.com/prefs">Unsubscribe</a>', headers=bulk)
    )
    assert "links.unsubscribe-missing" not in rules(with_link)
    personal, _ = await run(mail('<a href="https://www.acme.com/">Shop</a>'))
    assert "links.unsubscribe-missing" not in rules(personal)


async def test_cap_reports_what_was_skipped() -> None:
    html = "".join(f'<a href="https://www.acme.com/p/{i}">p</a>' for i in range(12))
    result, details = await run(mail(html), link_max_urls=5)
    assert len(details.links) == 5 and details.unique == 12 and details.skipped == 7
    assert details.skipped_urls[0] == "https://www.acme.com/p/5"
    assert "links.cap-reached" in rules(result) and "7 over the cap" in result.summary


async def test_no_links_passes() -> None:
    result, details = await run(mail(text="No links here."))
    assert result.status == Status.PASSED and details.links == []


async def test_hostile_html_is_bounded() -> None:
    html = "<a href='" + "h" * 200_000 + "'>x</a>" + "<div>" * 5000 + "url(" * 10_000
    result, _ = await run(mail(html))
    assert result.status in (Status.FAILED, Status.WARNING, Status.PASSED)


async def test_numeric_host_forms_are_private_hosts() -> None:
    # Browsers (and inet_aton) read all of these as 127.0.0.1 or 0.0.0.0.
    hosts = {
        "127.1": "loopback",
        "0x7f.1": "loopback",
        "2130706433": "loopback",
        "0x7f000001": "loopback",
        "017700000001": "loopback",
        "0177.0.0.1": "loopback",
        "[::127.0.0.1]": "loopback",
        "0": "unspecified",
    }
    html = "".join(f'<a href="https://{h}/reset">{i}</a>' for i, h in enumerate(hosts))
    result, _ = await run(mail(html))
    private = {f.data["host"]: f.message for f in result.findings if f.rule == "links.private-host"}
    assert set(private) == {h.strip("[]") for h in hosts}
    for host, kind in hosts.items():
        assert kind in private[host.strip("[]")], private[host.strip("[]")]
    ok, _ = await run(mail('<a href="https://1.acme.com/">a</a><a href="https://8.8.8.8/">b</a>'))
    assert "links.private-host" not in rules(ok)
