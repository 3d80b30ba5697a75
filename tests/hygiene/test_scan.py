"""The hygiene pass: tokenizer and open-element tracking, against HTML parsing rules."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailqa.checks.inbox_text import InboxText
from mailqa.core.html import HtmlDocument
from mailqa.core.markup import MAX_TAGS, MarkupScan, _Finder, scan_markup


def kinds(scan: MarkupScan) -> list[str]:
    return sorted(issue.kind for issue in scan.issues)


@pytest.mark.parametrize(
    "html",
    [
        "<ul><li>one<li>two</ul>",
        "<table><tr><td>a<td>b<tr><td>c</table>",
        "<table><thead><tr><th>h<tbody><tr><td>a</table>",
        "<p>one<p>two",
        "<dl><dt>term<dd>definition</dl>",
        "<select><option>a<option>b<optgroup><option>c</select>",
        "<html><head><title>t</title><body><div>x</div></html>",
        "<br><img src=x><br/><hr><input name=q>text</br>",
        "<svg><path d='M0 0'/></svg>",
        "<!--[if mso]><table><tr><td><![endif]--><div>x</div>"
        "<!--[if mso]></td></tr></table><![endif]-->",
        "<!--[if !mso]><!--><div>x</div><!--<![endif]-->",
        "<script>if (a < b && c > d) { x = '</div>'; }</script><div></div>",
        "<style>a > b { color: red } /* <p> */</STYLE ><div></div>",
        "<div title='a > b' data-x=\"</div>\">x</div>",
        "<!-->x<!--->y",
        "<a href=x><div>block inside a link is fine in HTML5</div></a>",
        "<span><div>content-model mismatch, but parsed as written</div></span>",
    ],
)
def test_valid_html_has_no_markup_issues(html: str) -> None:
    assert scan_markup(html).issues == []


def test_misnested_formatting_is_unclosed_then_stray() -> None:
    scan = scan_markup("<b><i>x</b></i>")
    assert [(i.kind, i.offset) for i in scan.issues] == [("unclosed", 3), ("stray", 11)]


def test_end_tag_does_not_cross_a_table_cell() -> None:
    # </div> inside a cell cannot close the div outside the table: browsers ignore it.
    html = "<div><table><tr><td>x</div></td></tr></table></div>"
    scan = scan_markup(html)
    assert [(i.kind, i.offset) for i in scan.issues] == [("stray", html.index("</div>"))]


def test_block_in_paragraph_is_one_nesting_issue() -> None:
    html = "<p>intro<div>block</div></p>"
    scan = scan_markup(html)
    assert [(i.kind, i.offset) for i in scan.issues] == [("nesting", html.index("<div>"))]


def test_content_directly_in_table_is_moved_out() -> None:
    scan = scan_markup("<table><div>x</div><tr>text<td>ok</td></tr></table>")
    messages = [i.message for i in scan.issues]
    assert [i.kind for i in scan.issues] == ["nesting", "nesting"]
    assert "<div> directly inside <table>" in messages[0]
    assert "text directly inside <tr>" in messages[1]


def test_nested_link_and_duplicate_id() -> None:
    html = '<a href=x>one <a href=y id=k>two</a></a><p id="k">'
    assert kinds(scan_markup(html)) == ["duplicate-id", "nested-link"]


@pytest.mark.parametrize(
    ("html", "where"),
    [
        ("<p>a</p><!-- forgotten <p>b</p>", "<!--"),
        ("<style>a{}<p>rest", "<style>"),
        ("<title>t<p>rest", "<title>"),
        ("<p>a</p><img src='x.png alt=b><p>rest</p>", "<img"),
        ("<p>a</p><div class=x", "<div"),
        ("<p>a</p></div", "</div"),
    ],
)
def test_unterminated_markup_is_reported_where_it_starts(html: str, where: str) -> None:
    scan = scan_markup(html)
    unterminated = [i for i in scan.issues if i.kind == "unterminated"]
    assert [i.offset for i in unterminated] == [html.index(where)]


@pytest.mark.parametrize(
    ("html", "comments", "texts"),
    [
        ("<p>a</p><!-- note --!><p>after</p>", [" note "], ["a", "after"]),
        ("<!-- one --!> two --> three", [" one "], ["two --> three"]),
        ("<!-- one --> two --!> three", [" one "], ["two --!> three"]),
        ("<!----!>shown", [""], ["shown"]),
        ("<!-- -!> and --! > do not close --> shown", [" -!> and --! > do not close "], ["shown"]),
    ],
)
def test_a_comment_ends_at_the_first_close_or_incorrect_close(
    html: str, comments: list[str], texts: list[str]
) -> None:
    scan = scan_markup(html)
    assert [c.text for c in scan.comments] == comments
    assert [(run.text, run.hidden) for run in scan.texts] == [(t, False) for t in texts]
    assert scan.issues == []


@given(st.lists(st.sampled_from(["<!--", "-->", "--!>", "x", "-", "!", ">"]), max_size=40))
def test_comments_end_where_browsers_end_them(parts: list[str]) -> None:
    html = "".join(parts)
    scan = scan_markup(html)
    # A reference reading: each comment ends at the nearest '-->' or '--!>'.
    expected, pos = [], html.find("<!--")
    while pos >= 0:
        body = pos + 4
        if html.startswith(">", body) or html.startswith("->", body):
            expected.append("")
            pos = html.find("<!--", body + (1 if html.startswith(">", body) else 2))
            continue
        ends = [i for i in (html.find("-->", body), html.find("--!>", body)) if i >= 0]
        if not ends:
            expected.append(html[body:])
            break
        end = min(ends)
        expected.append(html[body:end])
        pos = html.find("<!--", end + (4 if html.startswith("--!>", end) else 3))
    assert [c.text for c in scan.comments] == expected


def test_attributes_values_and_offsets() -> None:
    html = "<IMG SRC = \"a.png?x=1&amp;y=2\" alt='' width=600 hidden data-a=b/c>"
    (img,) = scan_markup(html).named("img")
    assert img.get("src") == "a.png?x=1&y=2"
    assert img.get("alt") == ""
    assert img.get("width") == "600"
    assert img.get("hidden") == ""
    assert img.get("data-a") == "b/c"
    assert img.attrs["alt"].offset == html.index("alt")


def test_title_styles_and_visible_text() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>A &amp; B</title><style>p{}</style></head>"
        "<body><script>var hidden = 1;</script><p>Hello&nbsp;there,\n  world</p></body></html>"
    )
    scan = scan_markup(html)
    assert scan.title == "A & B"
    assert [(s.text, s.offset) for s in scan.styles] == [("p{}", html.index("p{}"))]
    assert HtmlDocument(html).preview == "Hello there, world"
    assert InboxText.of(scan).visible_chars == len("Hello there, world")
    assert scan.doctype_offset == 0


@pytest.mark.parametrize(
    ("body", "preheader"),
    [
        (
            '<div style="display:none;max-height:0">Your order ships today</div><p>Hi</p>',
            "Your order ships today",
        ),
        ('<span class="preheader">Sale ends tonight</span><p>Hi</p>', "Sale ends tonight"),
        ("<div hidden><span>Nested <b>hidden</b> text</span></div><p>Hi</p>", "Nested hidden text"),
        ('<p>View in browser</p><div style="mso-hide:all;font-size:0">Preview</div>', "Preview"),
        ('<div style="display:none">&zwnj;&nbsp;&zwnj;&nbsp;</div><p>Hi</p>', None),
        ("<p>Hi</p>", None),
        ("<p>" + "x" * 200 + '</p><div style="display:none">too late</div>', None),
    ],
)
def test_preheader_is_hidden_text_near_the_top(body: str, preheader: str | None) -> None:
    doc = HtmlDocument(f"<html><body>{body}</body></html>")
    assert InboxText.of(doc.scan).preheader == preheader
    if preheader is not None:
        assert preheader not in doc.preview  # hidden text is not visible text


def runs(html: str) -> list[tuple[str, bool]]:
    return [(run.text, run.hidden) for run in scan_markup(html).texts]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # MJML and hybrid layouts: a zero font size on the wrapper, a size again inside.
        (
            '<div style="font-size:0px"><div style="font-size:14px">shown</div>gap</div>after',
            [("shown", False), ("gap", True), ("after", False)],
        ),
        (
            '<td style="direction:ltr;FONT-SIZE: 0"><table><tr><td>'
            '<span style="font: bold 14px/20px Arial">shown</span></td></tr></table></td>',
            [("shown", False)],
        ),
        ('<div style="font-size:0"><span style="color:red">x</span></div>', [("x", True)]),
        ('<div style="font-size:0"><p style="font-size:inherit">x</p></div>', [("x", True)]),
        ('<div style="font-size:0"><p style="font-size:small">shown</p></div>', [("shown", False)]),
        ('<div style="font-size:0"><p style="font-size:.8em">shown</p></div>', [("shown", False)]),
        ('<div style="font-size:0"><p style="font:0/0 a">x</p></div>', [("x", True)]),
        ('<div style="font-size:0"><p style="font:700 Arial">x</p></div>', [("x", True)]),
        ('<div style="font-size:0"><p style="font:700 12px a">shown</p></div>', [("shown", False)]),
        ('<div style="font-size:14px;font-size:0">x</div>', [("x", True)]),
        ('<div style="font-size:0 !important;font-size:14px">x</div>', [("x", True)]),
        ('<div style="font-size:0"><p style="font-size:0.0pt">x</p></div>', [("x", True)]),
        # Real hiding is not undone by a font size inside.
        ('<div style="display:none"><p style="font-size:14px">x</p></div>', [("x", True)]),
        ("<div hidden><p style='font-size:14px'>x</p></div>", [("x", True)]),
        ('<div class="preheader"><p style="font-size:14px">x</p></div>', [("x", True)]),
        ('<div style="mso-hide:all"><p style="font-size:14px">x</p></div>', [("x", True)]),
        ('<div style="opacity:0"><p style="font-size:14px">x</p></div>', [("x", True)]),
        ('<div style="max-height:0"><p style="font-size:14px">x</p></div>', [("x", True)]),
        (
            '<div style="font-size:0"><div style="display:none;font-size:14px">x</div></div>',
            [("x", True)],
        ),
        ('<div style="display:none"><textarea>typed</textarea></div>', [("typed", True)]),
    ],
)
def test_zero_font_size_hides_text_until_a_size_is_set_again(
    html: str, expected: list[tuple[str, bool]]
) -> None:
    assert runs(html) == expected


def test_tag_budget_truncates_without_false_unclosed() -> None:
    scan = scan_markup("<div>" * (MAX_TAGS + 10))
    assert scan.truncated
    assert scan.tag_count == MAX_TAGS
    assert scan.issues == []


def test_issues_are_counted_past_the_kept_ones() -> None:
    scan = scan_markup("</span>" * 5000)
    assert scan.issue_counts["stray"] == 5000
    assert len(scan.issues) < 5000


@given(
    st.text(alphabet="ab<>-!", max_size=300),
    st.lists(st.sampled_from(["<", ">", "-->", "ab", '"']), min_size=1, max_size=5),
    st.lists(st.integers(0, 300), max_size=40),
)
def test_finder_answers_like_str_find(source: str, needles: list[str], starts: list[int]) -> None:
    finder = _Finder(source)
    for start in sorted(starts):  # the scanner only moves forward
        for needle in needles:
            assert finder.find(needle, start) == source.find(needle, start)


# -- properties over generated documents --------------------------------------------------

NON_OPTIONAL = ("div", "span", "b", "center", "font", "a")


@st.composite
def element(draw: st.DrawFn, depth: int = 0, in_link: bool = False) -> str:
    """A balanced element: flow containers, links (never nested), tables, lists."""
    choices = ["div", "span", "b", "center", "font", "table", "ul"]
    if not in_link:
        choices.append("a")
    name = draw(st.sampled_from(choices))
    attr = draw(
        st.sampled_from(
            ["", ' class="x"', " title='a > b'", ' style="color:red"', ' data-x="</p>"']
        )
    )
    if depth >= 4:
        children = [draw(st.sampled_from(["text", "a &amp; b", "", "<br>", "<!-- <p> -->"]))]
    else:
        children = draw(
            st.lists(
                st.one_of(
                    st.sampled_from(["text", "<img src=x.png>", "<!-- c -->", "\n"]),
                    element(depth + 1, in_link or name == "a"),
                ),
                max_size=3,
            )
        )
    inner = "".join(children)
    if name == "table":
        return f"<table{attr}><tr><td>{inner}</td></tr></table>"
    if name == "ul":
        return f"<ul{attr}><li>{inner}</li><li>x</ul>"
    return f"<{name}{attr}>{inner}</{name}>"


@settings(max_examples=150, deadline=None)
@given(st.lists(element(), min_size=1, max_size=4))
def test_balanced_documents_have_no_markup_issues(parts: list[str]) -> None:
    html = "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>"
    assert scan_markup(html).issues == []


@settings(max_examples=150, deadline=None)
@given(st.lists(element(), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_a_removed_end_tag_is_reported_as_unclosed(parts: list[str], rnd: random.Random) -> None:
    html = "<div>" + "".join(parts) + "</div>"
    ends = [(name, i) for name in NON_OPTIONAL for i in _find_all(html, f"</{name}>")]
    name, index = rnd.choice(ends)
    broken = html[:index] + html[index + len(f"</{name}>") :]
    unclosed = [i for i in scan_markup(broken).issues if i.kind == "unclosed"]
    assert any(broken.startswith(f"<{name}", i.offset) for i in unclosed), broken


def _find_all(text: str, needle: str) -> list[int]:
    out, index = [], text.find(needle)
    while index >= 0:
        out.append(index)
        index = text.find(needle, index + 1)
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([*"<>/!-=\"' \n&;#abdipx?", "<div", "</", "<!--", "-->", "<td"]),
        max_size=200,
    ).map("".join)
)
def test_any_input_gives_issues_inside_the_source(html: str) -> None:
    scan = scan_markup(html)
    assert all(0 <= issue.offset < len(html) for issue in scan.issues)
    assert InboxText.of(scan).visible_chars <= len(html)
    for tags in scan.tags.values():
        assert all(html[tag.offset] == "<" for tag in tags)
