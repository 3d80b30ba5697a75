"""Exact, token-level detection with source positions."""

from __future__ import annotations

import pytest

from mailqa.checks.html_detect import detect
from mailqa.core.html import HtmlDocument


def used(html: str) -> set[str]:
    return set(detect(HtmlDocument(html)).counts)


def test_focus_visible_is_not_focus() -> None:
    found = used("<style>a:focus-visible { outline: none }</style>")
    assert "css-pseudo-class-focus-visible" in found
    assert "css-pseudo-class-focus" not in found


def test_text_transform_is_not_transform() -> None:
    found = used('<p style="text-transform: uppercase">x</p>')
    assert "css-text-transform" in found
    assert "css-transform" not in found


def test_display_flexing_is_not_flex() -> None:
    assert "css-display-flex" not in used('<p style="display: flexing">x</p>')
    assert "css-display-flex" in used('<p style="display:flex">x</p>')
    assert "css-display-flex" in used("<style>.a{display:inline-flex}</style>")


def test_h3_is_a_heading_and_header_is_not() -> None:
    assert "html-h1-h6" in used("<h3>x</h3>")
    assert "html-h1-h6" not in used("<header>x</header><hr>")


def test_rules_nested_in_media_and_supports_are_read() -> None:
    found = used(
        "<style>@media screen { @supports (display: grid) {"
        " .a:hover { display: grid; width: calc(100% - 10px) } } }</style>"
    )
    assert {
        "css-at-media",
        "css-at-supports",
        "css-pseudo-class-hover",
        "css-display-grid",
        "css-unit-calc",
    } <= found


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("(prefers-color-scheme: dark)", "css-at-media-prefers-color-scheme"),
        ("(hover: hover)", "css-at-media-hover"),
        ("(any-hover: none)", "css-at-media-hover"),
        ("(-webkit-min-device-pixel-ratio: 2)", "css-at-media-device-pixel-ratio"),
        ("screen and (orientation: landscape)", "css-at-media-orientation"),
        ("(prefers-reduced-motion: reduce)", "css-at-media-prefers-reduced-motion"),
    ],
)
def test_media_features(query: str, slug: str) -> None:
    assert slug in used(f"<style>@media {query} {{ p {{ color: red }} }}</style>")


def test_media_feature_names_inside_values_do_not_count() -> None:
    assert "css-at-media-hover" not in used("<style>.hover { color: red }</style>")


def test_shorthand_is_not_its_longhands() -> None:
    found = used('<p style="background-color: red; font-size: 12px">x</p>')
    assert {"css-background-color", "css-font-size"} <= found
    assert not {"css-background", "css-font"} & found


def test_vendor_prefixed_property_counts_as_the_property() -> None:
    assert "css-backdrop-filter" in used('<p style="-webkit-backdrop-filter: blur(2px)">x</p>')


def test_selector_forms() -> None:
    found = used("<style>div > p.a.b + span ~ em [href] * {color: red}</style>")
    assert {
        "css-selector-child",
        "css-selector-chaining",
        "css-selector-adjacent-sibling",
        "css-selector-general-sibling",
        "css-selector-attribute",
        "css-selector-universal",
        "css-selector-descendant",
        "css-selector-type",
        "css-selector-class",
    } <= found
    assert "css-selector-grouping" not in found
    assert "css-selector-descendant" not in used("<style>div > p {color: red}</style>")


def test_legacy_single_colon_pseudo_elements() -> None:
    found = used("<style>p:before { content: '' } p:first-line { color: red }</style>")
    assert {"css-pseudo-element-before", "css-pseudo-element-first-line"} <= found
    assert not any(slug.startswith("css-pseudo-class") for slug in found)


def test_comment_text_and_strings_are_not_features() -> None:
    found = used('<!-- display:flex <h1> --><p title="calc(1px)">a:hover</p>')
    assert "html-comments" in found
    assert not {"css-display-flex", "html-h1-h6", "css-unit-calc", "css-pseudo-class-hover"} & found


def test_images_from_every_source() -> None:
    html = (
        '<table background="bg.gif"><tr><td style="background-image: url(\'x.webp\')">'
        '<picture><source srcset="a.avif 1x, b.heic 2x"></picture>'
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">'
        '<video poster="p.jpeg"></video><script src="app.png"></script>'
    )
    found = used(html)
    assert {
        "image-gif",
        "image-webp",
        "image-avif",
        "image-heif",
        "image-svg",
        "image-base64",
        "image-jpg",
        "html-background",
    } <= found
    assert "image-png" not in found  # a script src is no image


def test_local_anchor_and_mailto() -> None:
    found = used('<a href="#">x</a><a href="https://x.test/#a">y</a>')
    assert "html-anchor-links" not in found
    assert "html-mailto-links" in used('<a href="MAILTO:a@b.test">m</a>')


def test_only_the_html5_doctype_counts() -> None:
    assert "html-doctype" in used("<!doctype html>\n<html></html>")
    legacy = '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "x.dtd">'
    assert "html-doctype" not in used(legacy)


def test_positions_are_line_and_column_of_the_token() -> None:
    html = (
        "<html>\n"
        "<head>\n"
        "<style>\n"
        "  .a { color: red }\n"
        "  .b:hover { display: flex }\n"
        "</style>\n"
        "</head>\n"
        '<body><p class="x" style="width: 10px; display:grid">y</p></body>\n'
    )
    doc = HtmlDocument(html)
    found = detect(doc)
    line5 = html.split("\n")[4]
    hover = [doc.position(o) for o in found.offsets["css-pseudo-class-hover"]]
    assert hover == [(5, line5.index(":hover"))]
    flex = [doc.position(o) for o in found.offsets["css-display-flex"]]
    assert flex == [(5, line5.index("flex"))]
    line, column = doc.position(found.offsets["css-display-grid"][0])
    assert (line, column) == (8, html.split("\n")[7].index("grid"))
    assert [doc.position(o) for o in found.offsets["html-p"]] == [(8, 6)]


def test_crlf_sources_keep_positions() -> None:
    html = "<p>\r\n<style>\r\n.a {\r\n  display: flex }\r\n</style>"
    doc = HtmlDocument(html)
    line, column = doc.position(detect(doc).offsets["css-display-flex"][0])
    assert (line, column) == (4, 11)


def test_every_use_is_counted_but_locations_are_capped() -> None:
    html = "<p>x</p>" * 500
    found = detect(HtmlDocument(html))
    assert found.counts["html-p"] == 500
    assert len(found.offsets["html-p"]) == 50
