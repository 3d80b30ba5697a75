"""Hostile and random input: always a report, within a time limit, never a crash."""

from __future__ import annotations

import time
from email.message import EmailMessage

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailqa.checks.html import HtmlAnalysis, HtmlCheck, analyse_html
from mailqa.checks.html_detect import MAX_CSS_CHARS, detect
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import MAX_TAGS as MAX_ELEMENTS
from mailqa.core.message import ParsedMessage
from mailqa.core.pipeline import Pipeline
from mailqa.core.report import Status
from mailqa.resources import check_context
from mailqa.settings import Settings

LIMIT_S = 10.0


def timed(html: str) -> tuple[float, HtmlAnalysis]:
    started = time.perf_counter()
    analysis = analyse_html(html)
    return time.perf_counter() - started, analysis


def test_100k_nested_tags() -> None:
    elapsed, analysis = timed("<div>" * 100_000 + "x" + "</div>" * 100_000)
    assert elapsed < LIMIT_S
    assert analysis.details.features_used >= 1  # html-div


def test_more_tags_than_the_cap_are_cut_and_said() -> None:
    elapsed, analysis = timed("<b>" * (MAX_ELEMENTS + 10))
    assert elapsed < LIMIT_S
    assert analysis.details.html_truncated


def test_10mb_style_block() -> None:
    css = ".a{color:red;display:flex}\n" * (10 * 1024 * 1024 // 27)
    elapsed, analysis = timed(f"<style>{css}</style><p>x</p>")
    assert elapsed < LIMIT_S
    assert analysis.details.css_truncated
    assert analysis.details.css_chars == MAX_CSS_CHARS
    assert "css-display-flex" in {f.slug for f in analysis.details.features}


def test_unterminated_comment_and_style() -> None:
    for html in (
        "<p>x</p><!-- never closed " + "<b>y</b>" * 50_000,
        "<p>x</p><style>.a { display: flex " + "x" * 1_000_000,
        "<p title='never closed" + "z" * 1_000_000,
        "<" * 200_000,
    ):
        elapsed, _ = timed(html)
        assert elapsed < LIMIT_S
    unterminated = detect(HtmlDocument("<style>.a { display: flex"))
    assert "css-display-flex" in unterminated.counts


def test_deeply_nested_css_blocks() -> None:
    css = "a{" * 20_000 + "color:red" + "}" * 20_000
    width = "(" * 20_000 + "1px" + ")" * 20_000
    elapsed, _ = timed(f'<style>{css}</style><p style="width: calc{width}">x</p>')
    assert elapsed < LIMIT_S


async def test_broken_encoding_through_the_pipeline() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "x"
    msg.set_content("plain")
    msg.add_alternative("<p style='display:flex'>caf\u00e9</p>", subtype="html")
    raw = bytes(msg).replace(b'charset="utf-8"', b'charset="no-such-charset"')
    raw = raw.replace(b"caf\xc3\xa9", b"caf\xff\xfe")
    ctx = check_context(Settings())
    report = await Pipeline([HtmlCheck()], timeout=LIMIT_S).run(ParsedMessage(raw), ctx)
    result = report.checks["html"]
    assert result.status in (Status.FAILED, Status.WARNING)
    assert "css-display-flex" in {f.rule for f in result.findings}


CSS_BITS = st.sampled_from(
    [
        "a",
        "p",
        ".x",
        "#y",
        ">",
        "+",
        "~",
        " ",
        ",",
        "*",
        ":hover",
        "::before",
        ":not(",
        ")",
        "{",
        "}",
        ";",
        ":",
        "display",
        "flex",
        "calc(",
        "var(--a)",
        "10px",
        "50%",
        "!important",
        "@media",
        "(prefers-color-scheme: dark)",
        "@supports",
        "url(a.png)",
        "/*",
        "*/",
        '"',
        "'",
        "\\",
        "&",
        "[x=",
        "]",
        "\n",
        "\r\n",
        "@import",
        "--x:",
    ]
)
HTML_BITS = st.sampled_from(
    [
        "<p>",
        "</p>",
        '<div style="',
        '">',
        "<style>",
        "</style>",
        "<!--",
        "-->",
        "<img src=",
        "a.webp",
        " srcset='",
        "'",
        '<a href="#x">',
        "<h4>",
        "<!DOCTYPE html>",
        "<input type=",
        "radio",
        ">",
        "<",
        "&amp;",
        "&#x",
        "\u00e9",
        "\x00",
        "<![CDATA[",
        "]]>",
        "<?xml ?>",
        "<svg>",
        "</",
        "<table background=bg.gif>",
    ]
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(HTML_BITS, CSS_BITS, st.text(max_size=8)), max_size=60))
def test_random_html_and_css_never_crash(bits: list[str]) -> None:
    source = "".join(bits)
    doc = HtmlDocument(source)
    found = detect(doc)
    for offsets in found.offsets.values():
        for offset in offsets:
            assert 0 <= offset <= len(source)
            line, column = doc.position(offset)
            assert 1 <= line <= len(doc.lines) and column >= 0
    analysis = analyse_html(source)
    assert 0 <= analysis.details.scores.overall <= 100
    assert {f.rule for f in analysis.findings} <= set(found.counts)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_random_css_in_style_blocks_and_attributes(css: str) -> None:
    quoted = css.replace('"', "&quot;")
    analysis = analyse_html(f'<style>{css}</style><p style="{quoted}">x</p>')
    assert analysis.details.features_used >= 1  # at least <p>


def test_deeply_nested_pseudo_class_selectors() -> None:
    """Selector functions nested far past the recursion limit: walked, not a crash."""
    for fn in ("not", "is", "has", "where"):
        selector = f":{fn}(" * 330 + "a" + ")" * 330
        found = detect(HtmlDocument(f"<style>{selector} {{ color: red }}</style>"))
        assert found.counts["css-selector-type"] == 1  # the innermost selector was reached
        if fn in ("not", "has"):  # caniemail has no :is() or :where()
            assert found.counts[f"css-pseudo-class-{fn}"] == 330
    deep = ":not(:is(" * 5_000 + ".x" + "))" * 5_000
    html = f'<style>{deep} {{ color: red }}</style><h1 style="display:flex">x</h1>'
    elapsed, analysis = timed(html)
    assert elapsed < LIMIT_S
    used = {f.slug for f in analysis.details.features}
    assert {"css-pseudo-class-not", "css-selector-class", "css-display-flex", "html-h1-h6"} <= used


async def test_deeply_nested_selectors_do_not_error_the_check() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content("plain")
    selector = ":where(" * 400 + "p" + ")" * 400
    msg.add_alternative(
        f"<style>{selector} {{ color: red }}</style><p style='display:flex'>x</p>", subtype="html"
    )
    ctx = check_context(Settings())
    report = await Pipeline([HtmlCheck()], timeout=LIMIT_S).run(ParsedMessage(bytes(msg)), ctx)
    result = report.checks["html"]
    assert result.status in (Status.FAILED, Status.WARNING), result.error
    assert "css-display-flex" in {f.rule for f in result.findings}


def test_distinct_big_stylesheets_are_not_kept_in_the_css_cache() -> None:
    """A stream of mails with distinct big <style> blocks must not grow memory."""
    from mailqa.checks.html_detect.engine import css_features

    css_features.cache_clear()
    for n in range(4):
        css = "".join(f".m{n}-{i} {{ display: flex; width: {i}px }}\n" for i in range(2500))
        found = detect(HtmlDocument(f'<style>{css}</style><p style="color: red">x</p>'))
        assert found.counts["css-display-flex"] == 2500
    info = css_features.cache_info()
    assert info.currsize == 1  # the one small inline style, none of the sheets


def test_repeated_inline_styles_are_parsed_once() -> None:
    from mailqa.checks.html_detect.engine import css_features

    css_features.cache_clear()
    detect(HtmlDocument('<td style="padding: 4px; color: #333">x</td>' * 200))
    info = css_features.cache_info()
    assert (info.hits, info.misses, info.currsize) == (199, 1, 1)


def test_css_cache_is_bounded_by_bytes_least_recently_used_first() -> None:
    from mailqa.checks.html_detect.engine import CssFeatures

    cache = CssFeatures(max_chars=1000, max_bytes=20_000)
    styles = [f"color: #{i:06x}; width: {i}px; display: flex" for i in range(500)]
    for style in styles:
        assert ("css-display-flex",) in {hit[0] for hit in cache(style, "style")}
        cache(styles[0], "style")  # kept in use: never the one evicted
    info = cache.cache_info()
    assert 0 < info.bytes <= 20_000
    assert 1 < info.currsize < 500
    before = info.hits
    cache(styles[0], "style")
    cache(styles[-1], "style")
    assert cache.cache_info().hits == before + 2
    cache(styles[1], "style")  # evicted long ago
    assert cache.cache_info().hits == before + 2
    cache("a" * 1001, "style")
    assert cache.cache_info().uncached == 1
