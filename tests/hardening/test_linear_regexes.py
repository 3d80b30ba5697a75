"""Patterns that read untrusted text run in linear time: one message cannot stall the server.

Each case feeds the real function that uses a pattern (the link extractor, the SPF parser,
ParsedMessage, ...) an adversarial input of 10 KB, 100 KB and 1 MB. No wall-clock threshold
is fragile here: the 1 MB run must take less than 30x the 100 KB one (a quadratic pattern
takes 100x) and less than a generous cap. A size whose time, scaled linearly to 1 MB,
already exceeds the cap fails at once, so a quadratic pattern fails in seconds instead of
running for hours.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Callable
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.stack import Running, base_settings, start_stack

from mailqa.api.routes.mailtrap.testing import _CID_REF as MAILTRAP_CID_REF
from mailqa.checks import blacklist, spam
from mailqa.checks.auth.dmarc_record import DMARC_VERSION
from mailqa.checks.headers import HeadersCheck
from mailqa.checks.html_detect import engine
from mailqa.checks.hygiene import HygieneCheck
from mailqa.checks.links.check import LinksCheck
from mailqa.checks.links.static import _mailto_problem, _tel_problem
from mailqa.core import markup
from mailqa.core.message import ParsedMessage, decode_header_value
from mailqa.net.spamd import client as spamd_client
from mailqa.net.spamd import process as spamd_process
from mailqa.net.spf import SpfError, _Evaluation, _normal_ip, is_explanation_text, parse_record
from mailqa.resources import check_context
from mailqa.settings import Settings
from mailqa.web.preview import _CID_REF as PREVIEW_CID_REF

MB = 1_000_000
SIZES = (10_000, 100_000, MB)
MAX_RATIO = 30.0  # 1 MB against 100 KB: linear gives ~10, quadratic ~100
CAP_SECONDS = 5.0  # for 1 MB
FLOOR_SECONDS = 0.005  # timer noise: below this a 100 KB run counts as this long

CTX = check_context(Settings(), offline=True)


def _best(fn: Callable[[Any], object], arg: Any, runs: int = 2) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        fn(arg)
        best = min(best, time.process_time() - started)
    return best


def assert_linear(fn: Callable[[Any], object], make: Callable[[int], Any]) -> None:
    fn(make(1_000))  # warm caches (rules files, compiled patterns)
    times: dict[int, float] = {}
    for size in SIZES:
        arg = make(size)
        times[size] = _best(fn, arg, runs=1 if size == SIZES[0] else 2)
        projected = times[size] * MB / size
        assert projected < CAP_SECONDS, (
            f"{size} bytes took {times[size]:.3f} s: {projected:.1f} s or more for 1 MB"
        )
    ratio = times[MB] / max(times[100_000], FLOOR_SECONDS)
    assert ratio < MAX_RATIO, f"1 MB took {ratio:.0f}x the time of 100 KB: {times}"


def html_mail(html: str, headers: str = "") -> ParsedMessage:
    head = f"From: a@acme.com\r\nTo: b@acme.com\r\nSubject: s\r\n{headers}MIME-Version: 1.0\r\n"
    return ParsedMessage(f"{head}Content-Type: text/html\r\n\r\n{html}".encode())


def text_mail(text: str, headers: str = "") -> ParsedMessage:
    head = f"From: a@acme.com\r\nTo: b@acme.com\r\nSubject: s\r\n{headers}MIME-Version: 1.0\r\n"
    return ParsedMessage(f"{head}Content-Type: text/plain\r\n\r\n{text}".encode())


def run_check(check: Any) -> Callable[[ParsedMessage], object]:
    def run(msg: ParsedMessage) -> object:
        return asyncio.run(check.run(msg, CTX))

    return run


def spf_parse(record: str) -> None:
    with contextlib.suppress(SpfError):
        parse_record(record)


def spf_expand(spec: str) -> str:
    evaluation = _Evaluation(None, _normal_ip("192.0.2.1"), "a@x.example", "x.example")  # type: ignore[arg-type]
    return asyncio.run(evaluation.expand(spec, "x.example"))


links = run_check(LinksCheck())
hygiene = run_check(HygieneCheck())
headers = run_check(HeadersCheck())


# (id, function under test, input of about n characters)
CASES: list[tuple[str, Callable[[Any], object], Callable[[int], Any]]] = [
    # links._EMAIL (now is_plain_address): a mailto: link to a long domain failing at its end
    (
        "links-mailto-dots",
        links,
        lambda n: html_mail('<a href="mailto:a@' + "b." * (n // 2) + '<">x</a>'),
    ),
    (
        "links-mailto-ats",
        links,
        lambda n: html_mail('<a href="mailto:' + "a@" * (n // 2) + '">x</a>'),
    ),
    ("mailto-problem", _mailto_problem, lambda n: "mailto:a@" + "b." * (n // 2) + ";"),
    # links._CSS_URL: unclosed url( in a style attribute, a <style> and a conditional comment
    (
        "links-style-attr-url",
        links,
        lambda n: html_mail('<td style="' + "url(" * (n // 4) + '">x</td>'),
    ),
    ("links-style-tag-url", links, lambda n: html_mail("<style>" + "url(" * (n // 4) + "</style>")),
    ("links-style-url-quote", links, lambda n: html_mail('<style>url("' + "url(" * (n // 4))),
    (
        "links-css-many-urls",  # the @import look-back before every url()
        links,
        lambda n: html_mail("<style>" + ("url(x)" + " " * 58) * (n // 64) + "</style>"),
    ),
    (
        "links-comment-attrs",
        links,
        lambda n: html_mail("<!--[if mso]>" + 'href="' * (n // 6) + " url(" * (n // 10) + "-->"),
    ),
    # links._TEXT_URL and its trimming, in the text part
    ("links-text-url-parens", links, lambda n: text_mail("see http://a.com/" + ")" * n)),
    ("links-text-url-dots", links, lambda n: text_mail("see http://a.com/" + "." * n)),
    ("links-text-many-urls", links, lambda n: text_mail("http://a.com/x " * (n // 15))),
    # links._DOMAIN_TEXT: link text that almost reads as a domain
    (
        "links-text-domain-labels",
        links,
        lambda n: html_mail('<a href="https://x.com/">' + "a-a." * (n // 4) + "!</a>"),
    ),
    (
        "links-text-domain-path",
        links,
        lambda n: html_mail('<a href="https://x.com/">a.com/' + "a" * n + " x</a>"),
    ),
    ("tel-problem", _tel_problem, lambda n: "tel:123" + ";ext=1" * (n // 6) + ";x"),
    # spf._TOPLABEL, _CIDR, _MACRO and the truncation of an expanded name
    ("spf-toplabel-letters", spf_parse, lambda n: "v=spf1 include:x." + "a" * n + "!"),
    ("spf-toplabel-digits", spf_parse, lambda n: "v=spf1 a:" + "1." * (n // 2)),
    ("spf-toplabel-hyphens", spf_parse, lambda n: "v=spf1 exists:x." + "a-" * (n // 2) + "_"),
    ("spf-cidr", spf_parse, lambda n: "v=spf1 a:x.example" + "/1" * (n // 2)),
    ("spf-cidr-dual", spf_parse, lambda n: "v=spf1 mx:x.example" + "//1" * (n // 3) + "x"),
    ("spf-macros", spf_parse, lambda n: "v=spf1 exists:" + "%{d1r.}" * (n // 7) + "%{"),
    ("spf-expand-truncation", spf_expand, lambda n: "%{d}" + ".a" * (n // 2)),
    # spf: the term character check, the domain-end after macros, the explanation text
    ("spf-control-char", spf_parse, lambda n: "v=spf1 ip4:192.0.2.5" + "\t" * n + "\n"),
    ("spf-domain-end", spf_parse, lambda n: "v=spf1 a:" + "%{d}." * (n // 5) + "1-"),
    ("spf-toplabel-digits-hyphen", spf_parse, lambda n: "v=spf1 a:x." + "1" * n + "-"),
    ("spf-redirect-domain", spf_parse, lambda n: "v=spf1 redirect=" + "a-" * (n // 2)),
    ("spf-explanation-text", is_explanation_text, lambda n: "%{c} %{r}" * (n // 9) + "%"),
    # RFC 2047 decoding inside capture
    (
        "message-subject-encoded-words",
        ParsedMessage,
        lambda n: f"Subject: {'=?utf-8?q?a?= ' * (n // 14)}\r\n\r\nx".encode(),
    ),
    (
        "message-subject-unclosed-words",
        ParsedMessage,
        lambda n: f"Subject: {'=?a?q?x' * (n // 7)}\r\n\r\nx".encode(),
    ),
    ("decode-header-newline", decode_header_value, lambda n: "=?a?q?x" * (n // 7) + "\r?="),
    # core.message Received parsing: parentheses, brackets and dotted numbers
    (
        "message-received-parens",
        ParsedMessage,
        lambda n: f"Received: from {'(' * n}\r\n\r\nx".encode(),
    ),
    (
        "message-received-brackets",
        ParsedMessage,
        lambda n: f"Received: from {'[1' * (n // 2)}\r\n\r\nx".encode(),
    ),
    (
        "message-received-ipv4",
        ParsedMessage,
        lambda n: f"Received: from {'1.1.1.' * (n // 6)}\r\n\r\nx".encode(),
    ),
    # headers._ADDR, _MESSAGE_ID, _LIST_UNSUB_ITEM
    (
        "headers-reply-to",  # an encoded word, so a no-break space ends the address
        headers,
        lambda n: text_mail("x", "Reply-To: =?utf-8?q?a@" + "b." * (n // 2) + "=C2=A0?=\r\n"),
    ),
    ("headers-message-id", headers, lambda n: text_mail("x", "Message-ID: <" + "a" * n + "@b\r\n")),
    (
        "headers-list-unsubscribe",
        headers,
        lambda n: text_mail("x", "List-Unsubscribe: " + "<a" * (n // 2) + "\r\n"),
    ),
    # hygiene._PIXELS and _STYLE_SIZE
    (
        "hygiene-width-spaces",
        hygiene,
        lambda n: html_mail('<img src="https://a.com/i.png" width="1' + " " * n + 'x">'),
    ),
    (
        "hygiene-style-sizes",
        hygiene,
        lambda n: html_mail('<img src="https://a.com/i.png" style="' + "width: " * (n // 7) + '">'),
    ),
]

# Other patterns on untrusted text, tried directly: (id, pattern method, input).
RAW: list[tuple[str, Callable[[Any], object], Callable[[int], Any]]] = [
    ("blacklist-url", blacklist._URL.findall, lambda n: "http://" * (n // 7)),
    ("spam-bracket-ip", spam._BRACKET_IP.findall, lambda n: b"[IPv6:" + b"1" * n),
    ("auth-dmarc-version", DMARC_VERSION.match, lambda n: "v" + " " * n + "x"),
    ("html-charref", lambda s: list(engine._CHARREF.finditer(s)), lambda n: "&#" * (n // 2)),
    ("html-extension", engine._EXTENSION.search, lambda n: ".ab" * (n // 3) + "/"),
    ("markup-hiding-style", markup._HIDING_STYLE.search, lambda n: "display " * (n // 8)),
    ("preview-cid", PREVIEW_CID_REF.findall, lambda n: "cid:" * (n // 4)),
    ("mailtrap-cid", MAILTRAP_CID_REF.findall, lambda n: "= " * (n // 2)),
    ("spamd-rule-line", spamd_client._RULE_LINE.match, lambda n: " 1.0 RULE" + " " * n + "\n x"),
    (
        "spamd-log-version",
        spamd_process._LOG_VERSION.findall,
        lambda n: "running version " * (n // 16),
    ),
]


@pytest.mark.parametrize(("fn", "make"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_untrusted_text_is_processed_in_linear_time(
    fn: Callable[[Any], object], make: Callable[[int], Any]
) -> None:
    assert_linear(fn, make)


@pytest.mark.parametrize(("fn", "make"), [c[1:] for c in RAW], ids=[c[0] for c in RAW])
def test_other_untrusted_text_patterns_are_linear(
    fn: Callable[[Any], object], make: Callable[[int], Any]
) -> None:
    assert_linear(fn, make)


def test_decoded_headers_are_unchanged() -> None:
    """The linear decoder gives what email.header did, on ordinary headers."""
    cases = {
        "=?utf-8?q?Caf=C3=A9?= au lait": "Café au lait",
        "=?utf-8?b?w6l0w6k=?= =?utf-8?q?_=C3=A0?=": "été à",
        "=?iso-8859-1?q?=E9?= plain =?utf-8?q?x?=": "é plain x",
        "prefix =?UTF-8?B?w6k?= suffix": "prefix é suffix",
        "=?utf-8?q?unclosed": "=?utf-8?q?unclosed",
        "=?bogus-charset?q?x?=": "=?bogus-charset?q?x?=",
    }
    assert {raw: decode_header_value(raw) for raw in cases} == cases


# --- end to end: a giant message over SMTP, the server answering HTTP meanwhile ----------


@pytest.fixture
async def analysing(tmp_path: Path) -> Any:
    settings = base_settings(
        tmp_path,
        checks=["headers", "links", "html", "hygiene"],
        smtp_max_message_size=6 * MB,
    )
    async with start_stack(settings) as stack:
        yield stack


def giant_message() -> bytes:
    html = (
        '<html><body><a href="mailto:a@' + "b." * (MB // 2) + '<">write</a>'
        '<td style="' + "url(" * (MB // 4) + '">x</td>'
        "<p>" + "see http://a.com/" + ")" * (MB // 4) + "</p></body></html>"
    )
    body = base64.encodebytes(html.encode()).replace(b"\n", b"\r\n")
    subject = "\r\n ".join(["=?utf-8?q?a?= " * 5] * 4000)  # 20 000 encoded words
    head = (
        "From: sender@app.example\r\nTo: user@example.com\r\n"
        f"Subject: {subject}\r\nMessage-ID: {make_msgid()}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + body


async def test_a_giant_message_is_analysed_while_the_server_keeps_answering(
    analysing: Running,
) -> None:
    raw = giant_message()
    assert len(raw) > 2 * MB
    async with analysing.client() as c:
        project = (await c.post("/api/v1/projects", json={"name": "giant"})).json()
        inbox = (
            await c.post(f"/api/v1/projects/{project['id']}/inboxes", json={"name": "in"})
        ).json()
    creds = (inbox["smtp"]["username"], inbox["smtp"]["password"])
    send = asyncio.create_task(asyncio.to_thread(analysing.smtp_send, raw, login=creds))

    slowest = 0.0
    async with httpx.AsyncClient(base_url=analysing.base_url, timeout=30) as probe:

        async def poll() -> None:
            nonlocal slowest
            while True:
                started = time.perf_counter()
                assert (await probe.get("/healthz")).status_code == 200
                slowest = max(slowest, time.perf_counter() - started)
                await asyncio.sleep(0.05)

        poller = asyncio.create_task(poll())
        try:
            assert await send == {}
            async with analysing.client() as c:
                r = await c.get(
                    f"/api/v1/inboxes/{inbox['id']}/messages/latest",
                    params={"wait": 60, "analyzed": "true"},
                )
                assert r.status_code == 200, r.text
                report = (await c.get(f"/api/v1/messages/{r.json()['id']}/report")).json()
        finally:
            failure = poller.exception() if poller.done() else None
            poller.cancel()
    assert failure is None, f"/healthz failed while the message was analysed: {failure!r}"
    checks = report["checks"]
    assert set(checks) == {"headers", "links", "html", "hygiene"}
    assert all(result["status"] != "errored" for result in checks.values()), checks
    rules = {f["rule"] for f in checks["links"]["findings"]}
    assert "links.invalid-mailto" in rules
    assert report["message"]["subject"].startswith("aaaa")
    assert slowest < 2.0, f"the server took {slowest:.1f} s to answer /healthz"
