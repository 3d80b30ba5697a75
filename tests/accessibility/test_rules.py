"""Each accessibility rule on hand-written HTML, positive and negative, with positions."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import pytest

from mailqa.checks.accessibility.check import AccessibilityCheck, analyse
from mailqa.checks.accessibility.rules import BY_ID, RULES, SEVERITY_OF_IMPACT
from mailqa.checks.accessibility.vocabulary import VAGUE_LINK_TEXT
from mailqa.core.html import HtmlDocument
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Finding, Severity, Status
from mailqa.resources import check_context
from mailqa.settings import Settings

TEXT = "Thanks for your order. It ships tomorrow and arrives within three days. " * 4


def page(body: str, *, head: str = "<title>Receipt</title>", html_attrs: str = ' lang="en"') -> str:
    """A clean message around ``body``: lang on <html> and on the wrapper, a title."""
    return (
        f'<!DOCTYPE html>\n<html{html_attrs}>\n<head><meta charset="utf-8">{head}</head>\n'
        f'<body>\n<div lang="en">\n<h1>Your order</h1>\n<p>{TEXT}</p>\n{body}\n</div>\n'
        "</body>\n</html>\n"
    )


def check(html: str) -> CheckResult:
    return analyse(HtmlDocument(html))


def rules(html: str) -> dict[str, Finding]:
    return {f.rule: f for f in check(html).findings}


def rule(name: str) -> str:
    return f"accessibility.{name}"


def test_a_clean_message_has_no_findings() -> None:
    html = page('<p><a href="https://shop.example/orders/42">Track order 42</a></p>')
    result = check(html)
    assert result.findings == []
    assert result.status is Status.PASSED
    assert result.score == 100.0
    assert result.details["language"] == "en"


# -- language and direction -------------------------------------------------------------


def test_no_lang_anywhere_is_serious_at_the_html_tag() -> None:
    html = page("", html_attrs="").replace('<div lang="en">', "<div>")
    finding = rules(html)[rule("html-lang-missing")]
    assert finding.severity is Severity.WARNING
    assert finding.data["wcag"] == "3.1.1"
    assert finding.data["impact"] == "serious"
    assert (finding.locations[0].line, finding.locations[0].snippet) == (2, "<html>")


def test_lang_on_html_only_is_flagged_for_webmail_with_the_clients_named() -> None:
    html = page("").replace('<div lang="en">', "<div>")
    found = rules(html)
    assert rule("html-lang-missing") not in found
    finding = found[rule("wrapper-lang-missing")]
    assert finding.severity is Severity.INFO
    assert "Gmail (Webmail)" in finding.data["webmail"]
    assert "drop the <html> element" in finding.message
    # The overlay from the caniemail data: clients that strip lang wherever it is.
    assert {c["client"] for c in finding.data["clients"]} >= {"gmx.desktop-webmail"}
    assert "GMX (Webmail)" in finding.message


def test_lang_on_the_wrapper_alone_covers_the_body() -> None:
    html = page("", html_attrs="")
    assert not {rule("html-lang-missing"), rule("wrapper-lang-missing")} & set(rules(html))


def test_a_lang_on_a_small_part_is_not_the_wrapper() -> None:
    html = page('<p lang="fr">Bonjour</p>', html_attrs="").replace('<div lang="en">', "<div>")
    assert rule("html-lang-missing") in rules(html)


def test_mjml_undetermined_lang_counts_as_none() -> None:
    html = page("", html_attrs=' lang="und"').replace('<div lang="en">', "<div>")
    assert rule("html-lang-missing") in rules(html)


@pytest.mark.parametrize("value", ["english", "en_US", "e", "123"])
def test_an_invalid_language_tag_is_flagged(value: str) -> None:
    finding = rules(page(f'<p lang="{value}">Hi there</p>'))[rule("lang-invalid")]
    assert value in finding.message


@pytest.mark.parametrize("value", ["en-GB", "pt-BR", "zh-Hant", "de"])
def test_valid_language_tags_pass(value: str) -> None:
    assert rule("lang-invalid") not in rules(page(f'<p lang="{value}">Hi there</p>'))


def test_right_to_left_text_needs_dir() -> None:
    html = page("", html_attrs=' lang="ar"').replace('lang="en"', 'lang="ar"')
    assert rule("dir-missing") in rules(html)
    fixed = html.replace('<html lang="ar"', '<html lang="ar" dir="rtl"').replace(
        '<div lang="ar"', '<div lang="ar" dir="rtl"'
    )
    found = rules(fixed)
    assert rule("dir-missing") not in found
    assert rule("wrapper-dir-missing") not in found


def test_rtl_dir_only_on_html_is_flagged_for_webmail() -> None:
    html = page("", html_attrs=' lang="he" dir="rtl"').replace('lang="en"', 'lang="he"')
    found = rules(html)
    assert rule("dir-missing") not in found
    assert "Outlook (Windows)" in found[rule("wrapper-dir-missing")].message  # html-dir: partial


# -- tables -----------------------------------------------------------------------------


def test_a_presentation_table_is_not_flagged() -> None:
    html = page('<table role="presentation"><tr><td>One</td><td>Two</td></tr></table>')
    assert rule("layout-table-role") not in rules(html)
    assert rule("layout-table-role") not in rules(html.replace("presentation", "none"))


def test_a_layout_table_without_role_is_flagged_with_what_strips_role() -> None:
    html = page('<table width="600">\n<tr><td>One</td><td>Two</td></tr></table>')
    finding = rules(html)[rule("layout-table-role")]
    assert finding.severity is Severity.INFO
    assert finding.locations[0].snippet == '<table width="600">'
    assert "Outlook (Windows Mail)" in finding.message  # the caniemail data: html-role n


def test_a_data_table_with_th_is_not_a_layout_table() -> None:
    html = page(
        "<table><tr><th>Item</th><th>Price</th></tr><tr><td>Boots</td><td>$90</td></tr></table>"
    )
    found = rules(html)
    assert rule("layout-table-role") not in found
    assert rule("data-table-headers") not in found


def test_a_data_table_without_header_cells_is_flagged() -> None:
    html = page("<table><caption>Your order</caption><tr><td>Boots</td><td>$90</td></tr></table>")
    found = rules(html)
    assert found[rule("data-table-headers")].severity is Severity.WARNING
    assert rule("layout-table-role") not in found


def test_header_cells_of_a_nested_table_do_not_make_the_outer_one_a_data_table() -> None:
    html = page(
        '<table><tr><td><table role="presentation"><tr><th>x</th></tr></table></td></tr></table>'
    )
    assert rules(html)[rule("layout-table-role")].data["occurrences"] == 1


# -- headings ---------------------------------------------------------------------------


def test_no_h1_is_flagged_only_when_there_is_text_to_navigate() -> None:
    assert rule("heading-one-missing") in rules(page("").replace("<h1>Your order</h1>", ""))
    short = '<html lang="en"><head><title>Code</title></head><body>Your code is 1234</body></html>'
    assert rule("heading-one-missing") not in rules(short)


def test_a_skipped_heading_level_is_flagged_where_it_is() -> None:
    html = page("<h3>Delivery</h3>\n<h2>Returns</h2>\n<h3>Refunds</h3>")
    finding = rules(html)[rule("heading-order")]
    assert finding.data["occurrences"] == 1
    assert finding.locations[0].snippet == "<h3>Delivery</h3>"
    assert "<h3> follows <h1>" in finding.message
    assert [h["level"] for h in check(html).details["headings"]] == [1, 3, 2, 3]


def test_large_bold_text_in_a_cell_is_a_heading_without_the_tag() -> None:
    html = page(
        '<table role="presentation"><tr>'
        '<td style="font-size:26px;font-weight:bold">Spring sale</td></tr></table>'
    )
    finding = rules(html)[rule("heading-not-marked-up")]
    assert '"Spring sale"' in finding.message
    merge_tag = html.replace("Spring sale", "{{header}}")
    assert rule("heading-not-marked-up") not in rules(merge_tag)
    assert rule("heading-not-marked-up") not in rules(
        page('<h2 style="font-size:26px">Spring sale</h2>')
    )
    # A big button label is a link, not a heading.
    assert rule("heading-not-marked-up") not in rules(
        page('<a href="https://x.example" style="font-size:26px">Shop the sale</a>')
    )


# -- images -----------------------------------------------------------------------------


def test_an_image_without_alt_is_serious_a_spacer_minor() -> None:
    html = page(
        '<img src="https://cdn.example/hero.png" width="600" height="300">\n'
        '<img src="https://cdn.example/spacer.gif" width="1" height="10">'
    )
    found = {(f.rule, f.severity): f for f in check(html).findings}
    assert (rule("img-alt-missing"), Severity.WARNING) in found
    spacer = found[(rule("img-alt-missing"), Severity.INFO)]
    assert spacer.title == 'Spacer image without alt=""'
    assert spacer.data["impact"] == "minor"


def test_decorative_images_with_empty_alt_pass() -> None:
    html = page('<img src="https://cdn.example/divider.png" alt="" width="600" height="4">')
    assert not check(html).findings


@pytest.mark.parametrize("alt", ["hero.png", "image", "IMG_2041", "Photo", "banner"])
def test_alt_text_that_says_nothing_is_flagged(alt: str) -> None:
    html = page(f'<img src="https://cdn.example/a.png" alt="{alt}" width="600" height="300">')
    assert rule("img-alt-meaningless") in rules(html)


def test_real_alt_text_goes_to_review_not_to_findings() -> None:
    html = page(
        '<img src="https://cdn.example/a.png" alt="Boots on a trail" width="60" height="30">'
    )
    result = check(html)
    assert result.findings == []
    review = [r for r in result.details["needs_review"] if r["kind"] == "alt-text"]
    assert review and "Boots on a trail" in review[0]["question"]
    assert review[0]["line"] == 8


def test_an_image_only_mail_without_alt_is_critical() -> None:
    html = (
        '<html lang="en"><head><title>Sale</title></head><body>'
        '<img src="https://cdn.example/sale.png" width="600" height="900">'
        '<img src="https://cdn.example/sale2.png" width="600" height="900"></body></html>'
    )
    result = check(html)
    finding = {f.rule: f for f in result.findings}[rule("image-only")]
    assert finding.severity is Severity.ERROR
    assert finding.data["impact"] == "critical"
    assert result.status is Status.FAILED
    with_alt = html.replace('height="900">', 'height="900" alt="Spring sale: 30% off boots">')
    finding = {f.rule: f for f in check(with_alt).findings}[rule("image-only")]
    assert finding.severity is Severity.WARNING


# -- links ------------------------------------------------------------------------------


def test_a_linked_image_without_alt_has_no_name() -> None:
    html = page(
        '<a href="https://x.example/shop">'
        '<img src="https://x.example/b.png" width="9" height="9"></a>'
    )
    assert rule("link-name-missing") in rules(html)
    named = html.replace('height="9">', 'height="9" alt="Shop boots">')
    assert rule("link-name-missing") not in rules(named)
    labelled = html.replace("<a ", '<a aria-label="Shop boots" ')
    assert rule("link-name-missing") not in rules(labelled)


def test_a_link_around_a_table_with_a_link_inside_is_named_by_its_text() -> None:
    """A bulletproof button: an outer <a> around a table whose cell holds the real link."""
    html = page(
        '<a href="https://x.example/get"><table role="presentation"><tr><td>'
        '<a href="https://x.example/get">Get the template</a></td></tr></table></a>'
    )
    assert rule("link-name-missing") not in rules(html)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Click here"),
        ("en", "Read more »"),
        ("de", "Hier klicken"),
        ("de", "Mehr erfahren"),
        ("fr", "Cliquez ici"),
        ("fr", "En savoir plus"),
        ("fr", "Plus d’infos"),
        ("es", "Haz clic aquí"),
        ("es", "Leer mas"),
        ("it", "Clicca qui"),
        ("it", "Scopri di più"),
        ("nl", "Klik hier"),
        ("nl", "Lees meer"),
        ("pt", "Clique aqui"),
        ("pt", "Saiba mais"),
    ],
)
def test_vague_link_text_per_language(language: str, text: str) -> None:
    finding = rules(page(f'<p><a href="https://x.example">{text}</a></p>'))[rule("link-text-vague")]
    assert language in finding.data["languages"]
    assert finding.data["wcag"] == "2.4.4"


def test_every_language_of_the_issue_has_a_list() -> None:
    assert set(VAGUE_LINK_TEXT) >= {"en", "de", "fr", "es", "it", "nl", "pt"}


def test_descriptive_link_text_passes() -> None:
    html = page('<p><a href="https://x.example">Read more about the spring sale</a></p>')
    assert rule("link-text-vague") not in rules(html)


def test_a_link_in_text_without_underline_needs_contrast_with_the_text() -> None:
    html = page(
        '<p style="color:#333333">See <a href="https://x.example" '
        'style="color:#444444;text-decoration:none">our terms</a> for details.</p>'
    )
    finding = rules(html)[rule("link-not-distinguishable")]
    assert "#444444" in finding.message
    underlined = html.replace("text-decoration:none", "text-decoration:underline")
    assert rule("link-not-distinguishable") not in rules(underlined)
    far = html.replace("#444444", "#0b5bd3")  # a blue 3:1 from the grey text
    assert rule("link-not-distinguishable") not in rules(far.replace("#333333", "#111111"))


def test_a_standalone_link_need_not_be_underlined() -> None:
    html = page(
        '<p><a href="https://x.example" style="color:#333;text-decoration:none">Shop boots</a></p>'
    )
    assert rule("link-not-distinguishable") not in rules(html)


# -- colour contrast --------------------------------------------------------------------


def test_contrast_from_inline_styles() -> None:
    finding = rules(page('<p style="color:#aaaaaa">Fine print that is too light</p>'))[
        rule("color-contrast")
    ]
    assert "#aaaaaa on #ffffff is 2.32:1 (needs 4.5:1)" in finding.message
    assert finding.data["wcag"] == "1.4.3"
    assert finding.locations[0].line == 8


def test_contrast_from_style_rules_with_specificity_and_important() -> None:
    html = page(
        '<p class="muted" id="legal">Legal text</p>',
        head="<title>x</title><style>p.muted{color:#bbbbbb} .muted{color:#000000}</style>",
    )
    assert rule("color-contrast") in rules(html)  # p.muted is more specific
    inline_wins = html.replace('class="muted"', 'class="muted" style="color:#000"')
    assert rule("color-contrast") not in rules(inline_wins)
    important = inline_wins.replace("#bbbbbb}", "#bbbbbb !important}")
    assert rule("color-contrast") in rules(important)


def test_contrast_from_bgcolor_and_font_color_attributes() -> None:
    html = page(
        '<table role="presentation" bgcolor="#222222">'
        '<tr><td><font color="#444444">Dim</font></td></tr></table>'
    )
    finding = rules(html)[rule("color-contrast")]
    assert "#444444 on #222222" in finding.message
    fixed = html.replace('color="#444444"', 'color="#ffffff"')
    assert rule("color-contrast") not in rules(fixed)


def test_contrast_inherits_colour_and_background_from_ancestors() -> None:
    html = page(
        '<div style="background-color:#1a1a1a;color:#555555"><table role="presentation">'
        "<tr><td><span>Inherited both</span></td></tr></table></div>"
    )
    assert "#555555 on #1a1a1a" in rules(html)[rule("color-contrast")].message


def test_large_text_needs_only_three_to_one() -> None:
    grey = "#888888"  # 3.54:1 on white
    assert rule("color-contrast") in rules(page(f'<p style="color:{grey}">Small grey</p>'))
    assert rule("color-contrast") not in rules(
        page(f'<p style="color:{grey};font-size:24px">Large grey</p>')
    )
    assert rule("color-contrast") not in rules(
        page(f'<p style="color:{grey};font-size:19px;font-weight:700">Large bold grey</p>')
    )


@pytest.mark.parametrize(
    "markup",
    [
        '<td background="https://x.example/bg.jpg" style="color:#fff">On a picture</td>',
        '<td style="background-image:url(https://x.example/bg.jpg);color:#fff">On a picture</td>',
        '<td style="background:linear-gradient(#000,#333);color:#fff">On a gradient</td>',
        '<td style="color:var(--text)">Variable colour</td>',
    ],
)
def test_an_unknown_colour_is_needs_review_never_a_guess(markup: str) -> None:
    html = page(f'<table role="presentation"><tr>{markup}</tr></table>')
    result = check(html)
    assert rule("color-contrast") not in {f.rule for f in result.findings}
    review = [r for r in result.details["needs_review"] if r["kind"] == "contrast"]
    assert review and review[0]["rule"] == rule("color-contrast")
    assert result.details["contrast_unknown"] == 1


def test_dark_mode_styles_are_needs_review() -> None:
    html = page(
        "", head="<title>x</title><style>@media (prefers-color-scheme: dark){p{color:#fff}}</style>"
    )
    kinds = {r["kind"] for r in check(html).details["needs_review"]}
    assert "dark-mode" in kinds


def test_link_states_in_style_rules() -> None:
    """``a:link`` is every link of a fresh message; ``a:visited`` in the same rule is left
    out on its own, not with the rule."""
    html = page(
        '<p><a href="https://x.example/terms">Our terms</a></p>',
        head="<title>x</title><style>a:link, a:visited { color: #c0c0c0; }</style>",
    )
    assert "#c0c0c0 on #ffffff" in rules(html)[rule("color-contrast")].message
    hover_only = html.replace("a:link, a:visited", "a:hover")
    assert rule("color-contrast") not in rules(hover_only)


def test_a_visible_cell_named_preheader_is_checked_a_hidden_preheader_is_not() -> None:
    visible = page(
        '<table role="presentation"><tr><td class="preheaderContent" '
        'style="color:#aaaaaa">View this email in your browser</td></tr></table>'
    )
    assert rule("color-contrast") in rules(visible)
    for hiding in ("display:none", "opacity:0", "max-height:0;overflow:hidden", "font-size:0"):
        hidden = page(f'<div class="preheader" style="{hiding};color:#fefefe">Preview text</div>')
        assert rule("color-contrast") not in rules(hidden), hiding


def test_hidden_text_is_not_checked() -> None:
    html = (
        page(
            '<div style="display:none;color:#fefefe">preheader</div>',
            head="<title>x</title><style>.mobile{display:none}</style>",
        )
        + '<p class="mobile" style="color:#fdfdfd">mobile only</p>'
    )
    assert rule("color-contrast") not in rules(html)


# -- document, viewport, ARIA, ids ------------------------------------------------------


def test_missing_and_empty_title() -> None:
    assert rule("document-title-missing") in rules(page("", head=""))
    assert rules(page("", head="<title> </title>"))[
        rule("document-title-missing")
    ].message.startswith("The <title> is empty.")


@pytest.mark.parametrize(
    "content",
    [
        "width=device-width, user-scalable=no",
        "width=device-width, maximum-scale=1",
        "user-scalable=0",
    ],
)
def test_a_viewport_that_disables_zoom(content: str) -> None:
    html = page("", head=f'<title>x</title><meta name="viewport" content="{content}">')
    assert rules(html)[rule("viewport-zoom-disabled")].data["wcag"] == "1.4.4"


def test_a_zoomable_viewport_passes() -> None:
    html = page(
        "",
        head='<title>x</title><meta name="viewport" '
        'content="width=device-width, initial-scale=1, maximum-scale=5">',
    )
    assert rule("viewport-zoom-disabled") not in rules(html)


def test_unknown_roles_and_aria_attributes() -> None:
    html = page(
        '<div role="buton" aria-lable="Close">x</div><div role="foo button" aria-label="ok">y</div>'
    )
    found = rules(html)
    assert 'role="buton"' in found[rule("aria-role-invalid")].message
    assert found[rule("aria-role-invalid")].data["occurrences"] == 1  # "foo button" falls back
    assert "aria-lable" in found[rule("aria-attr-invalid")].message


def test_aria_hidden_on_content_with_links() -> None:
    html = page('<div aria-hidden="true"><p><a href="https://x.example">Shop</a></p></div>')
    finding = rules(html)[rule("aria-hidden-focusable")]
    assert "1 focusable" in finding.message
    assert "Yahoo! Mail (Webmail)" in finding.message  # html-aria-hidden: stripped there
    untabbed = html.replace("<a ", '<a tabindex="-1" ')
    assert rule("aria-hidden-focusable") not in rules(untabbed)
    assert rule("aria-hidden-focusable") not in rules(
        page('<div aria-hidden="true"><p>icon</p></div>')
    )


def test_duplicate_ids_minor_unless_an_aria_reference_names_them() -> None:
    html = page('<p id="a">one</p><p id="a">two</p>')
    finding = rules(html)[rule("duplicate-id")]
    assert finding.severity is Severity.INFO
    referenced = html + '<p aria-describedby="a">three</p>'
    found = {(f.rule, f.severity) for f in check(referenced).findings}
    assert (rule("duplicate-id"), Severity.WARNING) in found


# -- text -------------------------------------------------------------------------------


def test_text_smaller_than_twelve_pixels() -> None:
    finding = rules(page('<p style="font-size:10px">Tiny print here</p>'))[rule("text-too-small")]
    assert "10 px" in finding.message
    assert rule("text-too-small") not in rules(page('<p style="font-size:12px">Fine print</p>'))
    assert rule("text-too-small") in rules(page('<p style="font-size:0.6em">Relative</p>'))
    assert rule("text-too-small") in rules(page('<p style="font-size:8pt">Points</p>'))


def test_justified_paragraphs() -> None:
    assert rule("text-justified") in rules(page(f'<p style="text-align:justify">{TEXT}</p>'))
    assert rule("text-justified") in rules(page(f'<p align="justify">{TEXT}</p>'))
    assert rule("text-justified") not in rules(page('<p style="text-align:justify">Short</p>'))


def test_all_caps_paragraphs() -> None:
    caps = "THIS OFFER IS VALID UNTIL THE END OF THE MONTH FOR ALL MEMBERS"
    assert rule("text-all-caps") in rules(page(f"<p>{caps}</p>"))
    transformed = f'<p style="text-transform:uppercase">{caps.lower()}</p>'
    assert rule("text-all-caps") in rules(page(transformed))
    assert rule("text-all-caps") not in rules(page("<p>SALE NOW ON</p>"))  # a short label
    merge_tags = "*|IFNOT:ARCHIVE_PAGE|* *|LIST:DESCRIPTION|* {{UNSUBSCRIBE_URL}} %%FIRST_NAME%%"
    assert rule("text-all-caps") not in rules(page(f"<p>{merge_tags}</p>"))


def test_animation_without_reduced_motion() -> None:
    css = (
        "<title>x</title><style>@keyframes pulse{from{opacity:1}to{opacity:.5}}"
        " .b{animation:pulse 1s infinite}</style>"
    )
    assert rule("animation-without-reduced-motion") in rules(page("", head=css))
    guarded = css.replace(
        "</style>", "@media (prefers-reduced-motion: reduce){.b{animation:none}}</style>"
    )
    assert rule("animation-without-reduced-motion") not in rules(page("", head=guarded))


# -- the registry and the check ---------------------------------------------------------


def test_every_rule_has_a_criterion_an_impact_and_a_fix() -> None:
    assert len(BY_ID) == len(RULES.rules) >= 25
    for entry in BY_ID.values():
        assert entry.rule.severity is SEVERITY_OF_IMPACT[entry.impact]
        assert entry.fix and entry.criterion.label in entry.rule.help
        assert entry.rule.id.startswith("accessibility.")


def test_the_check_runs_on_a_message_through_the_pipeline_context() -> None:
    msg = EmailMessage()
    msg["From"] = "shop@shop.example"
    msg["To"] = "a@example.com"
    msg["Subject"] = "Receipt"
    msg.set_content("Thanks")
    msg.add_alternative(page('<p style="color:#cccccc">Too light</p>'), subtype="html")
    result = asyncio.run(
        AccessibilityCheck().run(ParsedMessage(msg.as_bytes()), check_context(Settings()))
    )
    assert result.status is Status.WARNING
    assert rule("color-contrast") in {f.rule for f in result.findings}
    text_only = EmailMessage()
    text_only.set_content("plain")
    skipped = asyncio.run(
        AccessibilityCheck().run(ParsedMessage(text_only.as_bytes()), check_context(Settings()))
    )
    assert skipped.status is Status.SKIPPED
