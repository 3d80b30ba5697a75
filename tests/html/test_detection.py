"""Exact, token-level detection with source positions."""

from __future__ import annotations

import html as html_lib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailqa.checks.html_detect import detect
from mailqa.checks.html_detect.engine import RawOffsets
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
    assert hover == [(5, line5.index(":hover") + 1)]
    flex = [doc.position(o) for o in found.offsets["css-display-flex"]]
    assert flex == [(5, line5.index("flex") + 1)]
    line, column = doc.position(found.offsets["css-display-grid"][0])
    assert (line, column) == (8, html.split("\n")[7].index("grid") + 1)
    assert [doc.position(o) for o in found.offsets["html-p"]] == [(8, 7)]


def test_crlf_sources_keep_positions() -> None:
    html = "<p>\r\n<style>\r\n.a {\r\n  display: flex }\r\n</style>"
    doc = HtmlDocument(html)
    line, column = doc.position(detect(doc).offsets["css-display-flex"][0])
    assert (line, column) == (4, 12)


def test_every_use_is_counted_but_locations_are_capped() -> None:
    html = "<p>x</p>" * 500
    found = detect(HtmlDocument(html))
    assert found.counts["html-p"] == 500
    assert len(found.offsets["html-p"]) == 50


@pytest.mark.parametrize(
    "style",
    [
        "font-family: &quot;Foo Bar&quot;, serif; display:flex",
        "font-family: &#34;Foo&#x20;Bar&#34;, serif; display:flex",
        "content: &amp;&lt;&gt; ; display:flex",
        "content: '&ampx'; display:flex",  # a reference without ';' decodes too
        "color: red;&#10;display:flex",  # a decoded newline is no newline in the source
        "display:flex",
    ],
)
def test_inline_style_columns_count_character_references_as_written(style: str) -> None:
    html = f'<body>\n<h3 style="{style}">x</h3>'
    doc = HtmlDocument(html)
    found = detect(doc)
    assert [doc.position(o) for o in found.offsets["css-display-flex"]] == [
        (2, html.split("\n")[1].index("flex") + 1)
    ]
    assert [doc.position(o) for o in found.offsets["css-display"]] == [
        (2, html.split("\n")[1].index("display") + 1)
    ]


def test_unquoted_style_attribute_with_a_reference() -> None:
    html = "<p style=color:red;&#32;width:1px>x</p>"
    doc = HtmlDocument(html)
    assert detect(doc).offsets["css-width"] == [html.index("width")]


@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                " ",
                ";",
                "&",
                "#",
                "x",
                "&amp;",
                "&amp",
                "&ampx",
                "&quot;",
                "&#34;",
                "&#x22",
                "&#0;",
                "&#xD800;",
                "&nosuch;",
                "&notit;",
                "&NotEqualTilde;",
            ]
        ),
        max_size=30,
    )
)
def test_raw_offsets_land_on_the_written_character(bits: list[str]) -> None:
    raw = "".join(bits)
    decoded = html_lib.unescape(raw)
    where = RawOffsets(raw)
    mapped = [where(i) for i in range(len(decoded) + 1)]
    assert all(0 <= m <= len(raw) for m in mapped)
    assert all(a <= b for a, b in itertools.pairwise(mapped))
    for i, m in enumerate(mapped[:-1]):
        # Either the character as written, or the '&' of the reference that produced it.
        assert raw[m] in (decoded[i], "&"), (raw, i, m)


@pytest.mark.parametrize(
    "html",
    [
        '<picture><source media="(prefers-color-scheme: dark)" srcset="d.png">'
        '<img src="l.png"></picture>',
        '<style media="screen and (prefers-color-scheme: dark)">.a { color: red }</style>',
        '<link rel="stylesheet" href="d.css" media="(prefers-color-scheme:dark)">',
        "<style>@import url(dark.css) (prefers-color-scheme: dark);</style>",
        '<style>@import "dark.css" screen and (prefers-color-scheme: dark);</style>',
    ],
)
def test_media_queries_outside_media_rules(html: str) -> None:
    doc = HtmlDocument(html)
    found = detect(doc)
    assert found.offsets["css-at-media-prefers-color-scheme"] == [html.index("prefers-color")]
    assert "css-at-media" not in found.counts  # no @media rule


def test_media_attribute_features_and_positions() -> None:
    html = (
        "<picture>\n"
        '  <source media="(min-resolution: 2dppx), (orientation: landscape) and '
        '(-webkit-min-device-pixel-ratio: 2)" srcset="a.png">\n'
        '  <source media="(hover: hover) and (prefers-reduced-motion: reduce)" srcset="b.png">\n'
        "</picture>"
        '<p media="(orientation: portrait)">not a media query on a p</p>'
        '<source media="&#40;orientation: landscape&#41;" srcset="c.png">'
    )
    doc = HtmlDocument(html)
    found = detect(doc)
    assert {
        "css-at-media-orientation",
        "css-at-media-device-pixel-ratio",
        "css-at-media-hover",
        "css-at-media-prefers-reduced-motion",
    } <= set(found.counts)
    assert found.offsets["css-at-media-orientation"] == [
        html.index("orientation"),
        html.rindex("orientation"),  # after the &#40; reference, as written
    ]
    assert [doc.position(o) for o in found.offsets["css-at-media-hover"]] == [
        (3, html.split("\n")[2].index("hover") + 1)
    ]


def test_flex_flow_shorthand_counts_as_direction_and_wrap() -> None:
    found = used('<div style="flex-flow: column wrap">x</div>')
    assert {"css-flex-direction", "css-flex-wrap"} <= found
    assert used('<div style="flex-flow: row-reverse wrap-reverse">x</div>') & {
        "css-flex-direction",
        "css-flex-wrap",
    } == {"css-flex-wrap"}  # the data's flex-direction feature is column only
    assert "css-flex-direction" in used("<style>.a { flex-flow: column-reverse }</style>")


@pytest.mark.parametrize(
    ("css", "slugs"),
    [
        (
            "background-image: -webkit-image-set('a.avif' 1x, 'b.webp' 2x)",
            {"image-avif", "image-webp"},
        ),
        (
            'background-image: image-set("a.avif" type("image/avif"), url(b.png) 1x)',
            {"image-avif", "image-png"},
        ),
        ("background: image-set(url('c.heic') 1x)", {"image-heif"}),
    ],
)
def test_image_set_urls_are_images(css: str, slugs: set[str]) -> None:
    assert slugs <= used(f'<div style="{css.replace(chr(34), "&quot;")}">x</div>')


def test_strings_outside_image_set_are_not_images() -> None:
    found = used("<style>p::before { content: 'a.png'; font-family: 'x.webp' }</style>")
    assert not {"image-png", "image-webp"} & found


def test_vendor_single_colon_placeholder_is_the_pseudo_element() -> None:
    for selector in ("input:-ms-input-placeholder", "input:-moz-placeholder", "input::placeholder"):
        found = used(f"<style>{selector} {{ color: grey }}</style>")
        assert "css-pseudo-element-placeholder" in found, selector
    assert "css-pseudo-element-placeholder" not in used(
        "<style>input:placeholder-shown { color: grey }</style>"
    )


def test_video_and_audio_sources_are_not_video_as_image() -> None:
    found = used(
        '<video src="a.mp4" poster="p.png"><source src="b.mp4" type="video/mp4">'
        '<track src="c.vtt"></video><audio src="d.m4v"></audio>'
        '<picture><source srcset="e.webp"></picture>'
    )
    assert {"html-video", "html-audio", "image-png", "image-webp"} <= found
    assert "image-mp4" not in found
    # caniemail's image-mp4 is an MP4 in <img> or as a CSS background.
    assert "image-mp4" in used('<img src="clip.mp4">')
    assert "image-mp4" in used("<div style=\"background: url('clip.mp4')\">x</div>")


def test_vendor_prefixed_values_are_the_value() -> None:
    assert "css-display-flex" in used('<div style="display:-webkit-flex">x</div>')
    assert "css-display-flex" in used("<style>.a{display:-webkit-inline-flex}</style>")
    assert "css-display-flex" not in used('<div style="display:-webkit-box">x</div>')


def test_font_face_sources_are_fonts_not_images() -> None:
    sheet = (
        "<style>@font-face { font-family: Brand; "
        "src: url(data:font/woff2;base64,d09GMgABAAAAA) format('woff2'), "
        "url(https://cdn.test/brand.svg#Brand) format('svg') }</style>"
    )
    found = used(sheet)
    assert "css-at-font-face" in found
    assert not found & {"image-base64", "image-svg"}
    # The same URLs as backgrounds are images.
    assert {"image-base64", "image-svg"} <= used(
        '<div style="background-image:url(data:image/svg+xml;base64,PHN2Zz4=)">x</div>'
    )


def test_vml_and_office_styles_are_not_css() -> None:
    vml = '<v:rect style="position:absolute;width:600px;height:300px" fill="true"></v:rect>'
    assert not used(vml) & {"css-position", "css-width"}
    assert "css-position" in used('<div style="position:absolute">x</div>')
