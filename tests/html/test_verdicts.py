"""Verdicts: severity from impact and share, conditional comments, gates and fallbacks."""

from __future__ import annotations

from typing import Any

import pytest

from mailqa.checks.html import HtmlAnalysis, VerdictPolicy, analyse_document
from mailqa.checks.html_detect.conditional import conditionals, true_in_outlook
from mailqa.checks.html_detect.fallbacks import block_bounds
from mailqa.core.html import HtmlDocument
from mailqa.core.report import Finding, Severity
from mailqa.rules.caniemail import RulesData
from mailqa.settings import Settings

MAJOR = ["apple-mail.*", "gmail.*", "outlook.*", "yahoo.*", "samsung-email.*"]


def analyse(html: str, targets: list[str] | None = None, **policy: Any) -> HtmlAnalysis:
    return analyse_document(HtmlDocument(html), targets or MAJOR, policy=VerdictPolicy(**policy))


def finding(analysis: HtmlAnalysis, rule: str) -> Finding | None:
    return next((f for f in analysis.findings if f.rule == rule), None)


def severity(html: str, rule: str, targets: list[str] | None = None) -> Severity | None:
    found = finding(analyse(html, targets), rule)
    return found.severity if found is not None else None


def affected(found: Finding | None) -> set[str]:
    assert found is not None
    return {c["client"] for c in found.data["clients"]}


@pytest.mark.parametrize(
    ("condition", "outlook"),
    [
        ("mso", True),
        ("gte mso 9", True),
        ("mso | IE", True),
        ("(gte mso 9)|(IE)", True),
        ("mso 16", True),
        ("gt mso 16", False),
        ("lt mso 12", False),
        ("!mso", False),
        ("IE", False),
        ("!(mso)", False),
        ("(mso)&(!IE)", True),
        ("mso &", False),  # unreadable: Word shows nothing
        ("((((", False),
        ("mso " + "| mso " * 200, False),  # too long to read
    ],
)
def test_conditions_are_evaluated_as_word_does(condition: str, outlook: bool) -> None:
    assert true_in_outlook(condition) is outlook


def test_conditional_scopes_and_ghost_tables() -> None:
    html = (
        "<p>all</p>"
        "<!--[if mso]><table><tr><td><![endif]-->"
        "<div>ghost</div>"
        "<!--[if mso]></td></tr></table><![endif]-->"
        "<!--[if !mso]><!--><div>not outlook</div><!--<![endif]-->"
        "<!--[if IE]><p>nobody</p><![endif]-->"
    )
    conds = conditionals(HtmlDocument(html))
    assert conds.scope_at(html.index("all")) == "all"
    assert conds.scope_at(html.index("<table>")) == "outlook"
    assert conds.scope_at(html.index("not outlook")) == "not-outlook"
    assert conds.in_ghost_table(html.index("ghost"))
    assert not conds.in_ghost_table(html.index("not outlook"))
    assert conds.outlook is not None
    assert "nobody" not in conds.outlook.text  # [if IE] is never taken by Word
    offset = conds.outlook.text.index("<table>")
    assert conds.outlook.source_offset(offset) == html.index("<table>")


def test_an_unclosed_revealed_block_runs_to_the_end() -> None:
    html = "<!--[if !mso]><!--><div style='display:flex'><p>x</p><p>y</p></div>"
    assert conditionals(HtmlDocument(html)).scope_at(html.index("display")) == "not-outlook"


def test_error_for_layout_lost_in_a_major_client(rules: RulesData) -> None:
    assert rules.features["css-display-flex"].support["outlook"]["windows"].value == "n"
    html = '<div style="display:flex"><p>a</p><p>b</p></div>'
    flex = finding(analyse(html), "css-display-flex")
    assert flex is not None and flex.severity == Severity.ERROR
    assert "outlook.windows" in affected(flex)
    assert flex.data["impact"] == "layout"
    assert "Fix:" in flex.message and "Outlook (Windows)" in flex.message


def test_small_clients_make_it_a_warning_and_min_share_moves_the_line(
    rules: RulesData,
) -> None:
    html = '<div style="display:flex"><p>x</p><p>y</p></div>'
    target = ["outlook.windows-mail"]  # 0.3 % of opens
    assert rules.features["css-display-flex"].support["outlook"]["windows-mail"].value == "n"
    assert severity(html, "css-display-flex", target) == Severity.WARNING
    assert (
        finding(analyse(html, target, min_share=0.0), "css-display-flex").severity  # type: ignore[union-attr]
        == Severity.ERROR
    )


def test_enhancements_are_info_and_harmless_features_raise_nothing() -> None:
    html = '<p style="border-radius:4px;cursor:pointer">x</p>'
    analysis = analyse(html)
    assert severity(html, "css-border-radius") == Severity.INFO
    assert finding(analysis, "css-cursor") is None
    uses = {u.slug: u for u in analysis.details.features}
    assert uses["css-cursor"].impact == "harmless" and uses["css-cursor"].severity is None


def test_impact_overrides_from_the_settings() -> None:
    html = '<div style="display:flex"><p>x</p><p>y</p></div>'
    plain = analyse(html, impacts={"css-display-flex": "harmless"})
    assert finding(plain, "css-display-flex") is None
    settings = Settings(html_impact="css-display-flex=enhancement, html-div=layout")
    assert settings.html_impact == {"css-display-flex": "enhancement", "html-div": "layout"}
    with pytest.raises(ValueError, match="not one of"):
        Settings(html_impact="css-display-flex=broken")
    with pytest.raises(ValueError, match="did you mean css-position"):
        Settings(html_impact="css-positon=harmless")


def test_outlook_only_content_is_judged_against_outlook_only() -> None:
    html = '<!--[if mso]><div style="display:flex"><p>x</p><p>y</p></div><![endif]--><p>y</p>'
    flex = finding(analyse(html), "css-display-flex")
    assert flex is not None and flex.severity == Severity.ERROR
    assert affected(flex) <= {"outlook.windows", "outlook.windows-mail"}
    line, column = flex.locations[0].line, flex.locations[0].column
    assert (line, column) == (1, html.index('flex"') + 1)  # the value, in the source


def test_content_hidden_from_outlook_is_not_judged_against_it() -> None:
    html = '<!--[if !mso]><!--><div style="display:flex"><p>x</p><p>y</p></div><!--<![endif]-->'
    flex = finding(analyse(html), "css-display-flex")
    assert flex is not None and flex.severity != Severity.ERROR
    assert not affected(flex) & {"outlook.windows", "outlook.windows-mail"}
    assert "outlook.windows" in {c["client"] for c in flex.data["covered"]}


def test_vml_styles_are_not_css() -> None:
    html = (
        '<!--[if gte mso 9]><v:rect style="position:absolute;width:600px" fill="true">'
        "<v:fill src='a.jpg'/></v:rect><![endif]-->"
    )
    assert finding(analyse(html), "css-position") is None


def test_rules_under_at_media_never_apply_in_outlook() -> None:
    html = "<style>@media (max-width:600px) { .col { display:flex !important } }</style>"
    flex = finding(analyse(html), "css-display-flex")
    assert flex is None or "outlook.windows" not in affected(flex)


BACKGROUND = '<td style="background-image:url(hero.jpg);{colour}">{vml}<h1>Sale</h1></td>'
VML = (
    '<!--[if gte mso 9]><v:rect fill="true" stroke="false" style="width:600px">'
    '<v:fill type="frame" src="hero.jpg" color="#222"/><![endif]-->'
)


def test_background_image_needs_a_colour_and_vml() -> None:
    bare = BACKGROUND.format(colour="", vml="")
    assert severity(bare, "css-background-image") == Severity.ERROR
    coloured = BACKGROUND.format(colour="background-color:#222222", vml="")
    found = finding(analyse(coloured), "css-background-image")
    assert found is not None and found.severity == Severity.WARNING
    outlook = next(c for c in found.data["clients"] if c["client"] == "outlook.windows")
    assert outlook["support"] == "a" and outlook["data_support"] == "n"
    both = BACKGROUND.format(colour="background-color:#222222", vml=VML)
    found = finding(analyse(both), "css-background-image")
    assert found is None or found.severity != Severity.ERROR
    assert found is None or "outlook.windows" not in affected(found)


def test_new_image_formats_behind_a_classic_img() -> None:
    bare = '<img src="hero.webp" alt="Summer sale: 20% off">'
    assert severity(bare, "image-webp") == Severity.ERROR
    decorative = '<img src="swirl.webp" alt="">'  # nothing to read is lost: degraded
    assert severity(decorative, "image-webp") == Severity.WARNING
    picture = (
        '<picture><source type="image/webp" srcset="hero.webp">'
        '<img src="hero.jpg" alt=""></picture>'
    )
    assert severity(picture, "image-webp") in (None, Severity.INFO)
    srcset = '<img srcset="hero.webp 1x" src="hero.png" alt="">'
    assert severity(srcset, "image-webp") in (None, Severity.INFO)
    wrong = '<picture><source srcset="a.webp"><img src="a.avif" alt="Sale"></picture>'
    assert severity(wrong, "image-webp") == Severity.ERROR


def test_video_with_a_fallback_image_inside() -> None:
    bare = '<video src="demo.mp4" controls></video>'
    assert severity(bare, "html-video") == Severity.ERROR
    inside = (
        '<video src="demo.mp4" poster="p.jpg">'
        '<a href="https://x.test"><img src="p.jpg" alt="Play"></a></video>'
    )
    assert severity(inside, "html-video") in (None, Severity.INFO)


def test_hidden_preheader_chain_covers_its_links() -> None:
    chain = (
        '<div style="display:none;font-size:1px;line-height:1px;max-height:0px;'
        'max-width:0px;opacity:0;overflow:hidden;mso-hide:all">Preview</div>'
    )
    analysis = analyse(chain)
    assert not [f for f in analysis.findings if f.severity == Severity.ERROR]
    alone = '<div style="max-height:0px">Preview</div>'  # one link: no chain
    assert severity(alone, "css-max-height") == Severity.ERROR


def test_initial_values_and_what_they_depend_on() -> None:
    assert severity('<table style="float:none">', "css-float") in (None, Severity.INFO)
    assert severity('<table style="float:left">', "css-float") == Severity.ERROR
    aligned = '<table align="left" style="float:left">'
    assert severity(aligned, "css-float") != Severity.ERROR
    assert severity('<div style="clear:both">', "css-clear") != Severity.ERROR
    corners = '<div style="border-radius:8px;overflow:hidden">x</div>'
    assert severity(corners, "css-overflow") in (None, Severity.INFO)
    # overflow lost shows what it would clip: an enhancement
    assert severity('<div style="overflow:hidden">x</div>', "css-overflow") == Severity.INFO
    assert severity('<table style="float:unset">', "css-float") in (None, Severity.INFO)


def test_hybrid_columns_inside_ghost_tables() -> None:
    column = '<div style="display:inline-block;max-width:300px;width:100%;float:left">x</div>'
    bare = analyse(column)
    assert finding(bare, "css-float") is not None
    ghost = (
        f"<!--[if mso]><table><tr><td width=300><![endif]-->{column}"
        "<!--[if mso]></td></tr></table><![endif]-->"
    )
    for rule in ("css-float", "css-max-width", "css-display"):
        found = finding(analyse(ghost), rule)
        assert found is None or "outlook.windows" not in affected(found), rule


def test_strict_keeps_support_alone() -> None:
    html = '<!--[if !mso]><!--><p style="cursor:pointer;display:flex">x</p><!--<![endif]-->'
    strict = analyse(html, strict=True)
    assert {f.rule: f.severity for f in strict.findings}["css-display-flex"] == Severity.ERROR
    assert finding(strict, "css-cursor") is not None
    assert strict.details.strict


def test_the_score_weighs_impact_and_share() -> None:
    clean = analyse(
        '<table role="presentation" width="600"><tr><td style="padding:10px;'
        'border-radius:4px;font-family:Arial,sans-serif">Hello</td></tr></table>'
    )
    broken = analyse('<svg width="10"></svg><div style="display:flex"><p>x</p><p>y</p></div>')
    assert clean.details.scores.verdict is not None and broken.details.scores.verdict is not None
    assert clean.details.scores.verdict >= 95
    assert broken.details.scores.verdict <= 60
    by_client = broken.details.scores.verdict_by_client
    assert by_client["apple-mail.ios"] > by_client["gmail.desktop-webmail"]


def test_dependent_features_relative_positions_and_redeclared_fallbacks() -> None:
    assert severity('<div style="position:relative">x</div>', "css-position") in (
        None,
        Severity.INFO,
    )
    moved = '<div style="position:relative;top:4px">x</div>'  # stays in the flow
    assert severity(moved, "css-position") == Severity.WARNING
    assert severity(moved, "css-left-right-top-bottom") != Severity.ERROR  # only the nudge
    badge = '<div style="position:absolute;top:0;z-index:2">Sale</div>'
    analysis = analyse(badge)
    assert finding(analysis, "css-position").severity == Severity.ERROR  # type: ignore[union-attr]
    for rule in ("css-z-index", "css-left-right-top-bottom"):  # moot where position is lost
        found = finding(analysis, rule)
        assert found is None or not affected(found) & {"gmail.desktop-webmail", "outlook.windows"}
    calc = '<td style="width:calc(100% - 20px)">x</td>'
    assert severity(calc, "css-unit-calc") == Severity.ERROR
    fallback = '<td style="width:580px;width:calc(100% - 20px)">x</td>'
    assert severity(fallback, "css-unit-calc") in (None, Severity.INFO)
    sheet = "<style>.a { width: 580px; width: calc(100% - 20px) }</style>"
    assert severity(sheet, "css-unit-calc") in (None, Severity.INFO)


def test_hidden_attribute_in_a_hiding_chain() -> None:
    assert severity("<div hidden>Preview</div>", "html-hidden") == Severity.ERROR
    chained = '<div hidden style="display:none;mso-hide:all">Preview</div>'
    found = finding(analyse(chained), "html-hidden")
    assert found is not None and found.severity != Severity.ERROR
    covered = {c["client"] for c in found.data["covered"]}
    assert {"gmail.desktop-webmail", "outlook.windows"} <= covered


def test_a_selector_costs_what_its_rules_set() -> None:
    tweak = "<style>.fix > table { border-collapse: separate !important }</style>"
    assert severity(tweak, "css-selector-child") in (None, Severity.INFO)
    hiding = "<style>.menu > div { display: none }</style>"
    assert severity(hiding, "css-selector-child") == Severity.ERROR
    overridden = analyse(tweak, impacts={"css-border-collapse": "layout"})
    found = finding(overridden, "css-selector-child")
    assert found is not None and found.severity == Severity.ERROR


def test_phone_width_queries_never_apply_on_desktops_and_webmail() -> None:
    phone = "<style>@media (max-width: 480px) { .c { position: absolute } }</style>"
    analysis = analyse(phone)
    found = finding(analysis, "css-position")
    assert found is not None and found.data["clients"]
    info = analysis.details.client_info
    assert all(info[c["client"]].category == "mobile" for c in found.data["clients"])
    wide = "<style>@media (max-width: 900px) { .c { position: absolute } }</style>"
    found = finding(analyse(wide), "css-position")
    assert found is not None and "gmail.desktop-webmail" in affected(found)


def test_a_lost_unit_in_spacing_or_type_degrades_and_a_width_attribute_backs_css() -> None:
    spacing = '<p style="margin-top:2rem;font-size:0.875rem">x</p>'
    assert severity(spacing, "css-unit-rem") == Severity.WARNING
    sized = '<div style="width:20rem">x</div>'
    assert severity(sized, "css-unit-rem") == Severity.ERROR
    attribute = '<table width="600" style="width:20rem"><tr><td>x</td></tr></table>'
    assert severity(attribute, "css-unit-rem") == Severity.WARNING


def test_outlook_only_white_space_spacers_are_not_hiding_anything() -> None:
    spacer = (
        '<a href="https://x.test"><!--[if mso]><i style="mso-text-raise:30px" hidden>'
        "&emsp;&#8203;</i><![endif]-->Buy</a>"
    )
    assert severity(spacer, "html-hidden") in (None, Severity.INFO)
    words = "<!--[if mso]><p hidden>Only for Outlook</p><![endif]-->"
    assert severity(words, "html-hidden") == Severity.ERROR


def test_stylesheet_declarations_also_inlined() -> None:
    rule = "<style>.col { width: calc(100% - 20px) }</style>"
    inlined = (
        rule
        + '<td class="col" style="width:280px">a</td><td class="col" style="width:280px">b</td>'
    )
    assert severity(rule + '<td class="col">a</td>', "css-unit-calc") == Severity.ERROR
    assert severity(inlined, "css-unit-calc") == Severity.WARNING
    partly = rule + '<td class="col" style="width:280px">a</td><td class="col">b</td>'
    assert severity(partly, "css-unit-calc") == Severity.ERROR


def test_caniemail_caveats_are_read_against_the_use() -> None:
    from mailqa.checks.html_detect.caveats import UseContext, caveat

    div = "Partial. Not supported on `<body>`, `<span>`, `<div>`, `<p>` or `<img>` elements."
    table_only = "Partial. Only works on `<table>` elements."
    values = "Partial. Flow-relative values `start` and `end` are not supported."
    on = UseContext(element="td", css="width:300px", in_body=True)
    assert caveat((div,), on) == "none"
    assert caveat((div,), UseContext("div", "width:300px", True)) == "applies"
    assert caveat((div,), UseContext(None, "width:300px", False)) == "applies"  # unknown
    assert caveat((table_only,), UseContext("table", "max-width:600px", True)) == "none"
    assert caveat((table_only,), UseContext("div", "max-width:600px", True)) == "applies"
    assert caveat((values,), UseContext("td", "text-align:center", True)) == "none"
    assert caveat((values,), UseContext("td", "text-align:start", True)) == "applies"
    gmail = "Partial. Not supported with non Google accounts."
    assert caveat((gmail,), on) == "minor"
    assert caveat((gmail, div), UseContext("div", "", True)) == "applies"
    body = "Partial. Not supported inside the `<body>`."
    assert caveat((body,), UseContext("style", None, False)) == "none"
    assert caveat((body,), UseContext("style", None, True)) == "applies"
    assert caveat(("Not supported. Something else.",), on) == "applies"
    assert caveat((), on) == "applies"


def test_caps_that_cap_nothing_and_template_tags_in_css() -> None:
    logo = '<img src="l.png" alt="Logo" style="height:75px;max-height:75px;width:75px">'
    assert severity(logo, "css-max-height") in (None, Severity.INFO)
    assert severity('<div style="max-height:75px">x</div>', "css-max-height") == Severity.ERROR
    safety = '<td style="max-width:100vw;padding:32px">x</td>'
    assert severity(safety, "css-unit-vw") == Severity.WARNING
    tags = '<p style="color:#111;{% if urgent %}background-color:#fdd{% endif %}">x</p>'
    assert "css-nesting" not in {f.rule for f in analyse(tags).findings}


def test_caveats_about_values_sizes_and_mixed_notes() -> None:
    from mailqa.checks.html_detect.caveats import UseContext, caveat

    multiple = "Partial. Does not support multiple values. The comma between two values is removed."
    one = UseContext("td", "background-image:url(a.jpg)", True, value="url(a.jpg)")
    two = UseContext("td", "", True, value="url(a.jpg), url(b.jpg)")
    assert caveat((multiple,), one) == "none"
    assert caveat((multiple,), two) == "applies"
    negative = "Partial. Negative values are not supported."
    assert caveat((negative,), UseContext("p", "", True, value="0 0 10px")) == "none"
    assert caveat((negative,), UseContext("p", "", True, value="-2px 0")) == "applies"
    align = "Partial. `left` and `right` do not work on `<table>` elements."
    assert caveat((align,), UseContext("table", None, True, value="center")) == "none"
    assert caveat((align,), UseContext("table", None, True, value="left")) == "applies"
    assert caveat((align,), UseContext("td", None, True, value="left")) == "none"
    display = "Partial. Only supports `display:none` (but not on `<img>`)."
    assert caveat((display,), UseContext("div", "display:none", True, value="none")) == "none"
    assert caveat((display,), UseContext("td", "display:block", True, value="block")) == "applies"
    assert caveat((display,), UseContext("img", "display:none", True, value="none")) == "applies"
    size = "The size of the `<style>` tag [is limited to 16 KB](https://github.com/x)"
    assert caveat((size,), UseContext("style", "a{}" * 10, False)) == "none"
    assert caveat((size,), UseContext("style", "a{}" * 6000, False)) == "applies"


def test_caveats_end_to_end_on_a_real_shape() -> None:
    html = (
        '<table align="center" role="presentation"><tr>'
        '<td style="background-image:url(hero.jpg);background-color:#222">x</td></tr></table>'
    )
    analysis = analyse(html, ["yahoo.*", "outlook.macos"])
    for rule in ("html-align", "css-background-image"):
        found = finding(analysis, rule)
        assert found is None or found.severity == Severity.INFO, rule


def test_container_properties_on_no_container_and_queries_in_units() -> None:
    wrap = '<p style="max-width:24rem;flex-wrap:wrap">x</p>'
    assert severity(wrap, "css-flex-wrap") in (None, Severity.INFO)
    flexed = '<div style="display:flex;flex-wrap:wrap"><p>a</p><p>b</p></div>'
    assert severity(flexed, "css-flex-wrap") == Severity.ERROR
    assert severity(wrap, "css-unit-rem") == Severity.WARNING  # a lost cap degrades
    query = "<style>@media (max-width: 40rem) { .c { padding: 0 } }</style>"
    found = finding(analyse(query), "css-unit-rem")
    assert found is None or "outlook.windows" not in affected(found)  # no @media there


def test_a_rule_nested_for_a_media_query_costs_what_the_query_does() -> None:
    nested = "<style>.container{@media (width>=40rem){max-width:40rem!important}}</style>"
    assert severity(nested, "css-nesting") in (None, Severity.INFO)
    layout = "<style>.menu{& > div{display:none}}</style>"
    assert severity(layout, "css-nesting") == Severity.ERROR


def test_a_lost_full_width_on_a_box_degrades_but_on_an_image_breaks() -> None:
    button = '<a href="https://x.test" style="display:table-cell;width:100vw">Go</a>'
    assert severity(button, "css-unit-vw") == Severity.WARNING
    logo = '<img src="logo.png" alt="Shop" style="width:15rem">'  # natural size in Outlook
    assert severity(logo, "css-unit-rem") == Severity.ERROR


def test_a_stylesheet_rule_for_a_type_that_every_element_sets_inline() -> None:
    reset = (
        "<style>img { float: left; clear: both }</style>"
        '<img src="a.png" alt="a" align="left" style="float:left">'
        '<img src="b.png" alt="b" style="float:none">'
    )
    assert severity(reset, "css-float") != Severity.ERROR
    missing = reset.replace(' style="float:none"', "")  # b.png floats from the sheet only
    assert severity(missing, "css-float") == Severity.ERROR


def test_a_rule_of_spacing_only_degrades_when_its_selector_is_dropped() -> None:
    spacing = "<style>.btn > tbody > tr > td { padding-bottom: 16px }</style>"
    assert severity(spacing, "css-selector-child") == Severity.WARNING
    layout = "<style>.btn > tbody > tr > td { display: block; padding: 0 }</style>"
    assert severity(layout, "css-selector-child") == Severity.ERROR


def test_flex_on_boxes_of_one_item_only_aligns_it() -> None:
    icon = (
        "<style>.icon{display:flex;align-items:center;justify-content:center;width:32px}</style>"
        '<a class="icon" href="https://x.test"><img src="i.png" alt="X"></a>'
        '<a class="icon" href="https://y.test"><img src="j.png" alt="Y"></a>'
    )
    for rule in ("css-display-flex", "css-align-items", "css-justify-content"):
        assert severity(icon, rule) == Severity.WARNING, rule
    centred = '<div style="display:flex;justify-content:center"><img src="a.png" alt="a"></div>'
    assert severity(centred, "css-display-flex") == Severity.WARNING
    row = '<div style="display:flex"><p>a</p><p>b</p></div>'
    assert severity(row, "css-display-flex") == Severity.ERROR
    mixed = icon.replace('<img src="j.png" alt="Y">', '<img src="j.png" alt="Y"><b>Y</b>')
    assert severity(mixed, "css-display-flex") == Severity.ERROR  # one box holds two items


def test_flex_on_table_rows_and_cells_keeps_the_table_layout() -> None:
    rows = (
        "<style>tr { display: flex; }</style>"
        '<table role="presentation"><tr><td>Used</td><td>95%</td></tr></table>'
    )
    assert severity(rows, "css-display-flex") == Severity.WARNING
    cell = '<table><tr><td style="display:flex;gap:8px"><b>a</b><b>b</b></td></tr></table>'
    assert severity(cell, "css-display-flex") == Severity.WARNING
    boxes = "<style>.row { display: flex; }</style>" + '<div class="row"><p>a</p><p>b</p></div>'
    assert severity(boxes, "css-display-flex") == Severity.ERROR


def test_a_full_width_calc_on_a_block_falls_back_to_about_that_width() -> None:
    section = (
        "<style>#promo { display: block; width: calc(100% - 20px); margin: 0 auto; }</style>"
        '<div id="promo"><p>Get premium</p></div>'
    )
    assert severity(section, "css-unit-calc") == Severity.WARNING
    inline = '<div style="width:calc(100% - 40px)"><p>text</p></div>'
    assert severity(inline, "css-unit-calc") == Severity.WARNING
    column = '<table style="width:calc(100% - 40px)"><tr><td>a</td></tr></table>'
    assert severity(column, "css-unit-calc") == Severity.ERROR  # a table shrinks to fit
    half = '<div style="width:calc(50% - 10px)"><p>text</p></div>'
    assert severity(half, "css-unit-calc") == Severity.ERROR


def test_a_background_colour_beside_a_template_url_covers_the_image() -> None:
    """``url({0})`` (a template's placeholder) holds braces: the rule is still read whole."""
    card = (
        "<style>.card { background-image: url({0}); background-color: #1f1f1f; "
        "color: #ffffff; }</style>"
        '<table role="presentation"><tr><td class="card">Title</td></tr></table>'
    )
    assert severity(card, "css-background-image") != Severity.ERROR
    bare = card.replace(" background-color: #1f1f1f;", "")
    assert severity(bare, "css-background-image") == Severity.ERROR


def test_a_height_attribute_is_the_cap_outlook_keeps() -> None:
    spacer = '<img src="s.gif" height="1" width="600" alt="" style="max-height:1px;display:block">'
    assert severity(spacer, "css-max-height") in (None, Severity.INFO)
    taller = '<img src="s.gif" height="40" alt="" style="max-height:1px;display:block">'
    assert severity(taller, "css-max-height") == Severity.ERROR


def test_a_cap_on_an_image_of_unknown_height_is_to_review() -> None:
    logo = '<img src="https://x.test/logo.png" alt="Shop" style="max-height:50px">'
    assert severity(logo, "css-max-height") == Severity.WARNING
    auto = '<img src="https://x.test/logo.png" alt="Shop" style="max-height:50px;height:auto">'
    assert severity(auto, "css-max-height") == Severity.WARNING
    box = '<div style="max-height:50px;overflow:hidden">long text</div>'
    assert severity(box, "css-max-height") == Severity.ERROR
    sheet = '<style>img { max-width: 100%; max-height: 250px; }</style><img src="a.png" alt="">'
    assert severity(sheet, "css-max-height") == Severity.WARNING
    boxes = "<style>div { max-height: 250px; }</style><div>text</div>"
    assert severity(boxes, "css-max-height") == Severity.ERROR


def test_a_variable_colour_lost_on_an_empty_box_is_only_that_colour() -> None:
    divider = (
        '<table role="presentation"><tr><td style="background:var(--grey, #2c2c2e);'
        'font-size:0;height:1px">&nbsp;</td></tr></table>'
    )
    assert severity(divider, "css-variables") == Severity.WARNING
    behind_text = divider.replace('font-size:0;height:1px">&nbsp;', '">').replace(
        "</td>", '<p style="color:#ffffff">Your code: 1234</p></td>'
    )
    assert severity(behind_text, "css-variables") == Severity.ERROR
    colour = '<p style="color:var(--text, #333)">Hello</p>'
    assert severity(colour, "css-variables") == Severity.ERROR


def test_a_lost_background_image_shows_the_colour_of_an_enclosing_element() -> None:
    button = (
        '<table bgcolor="#4f6331"><tr><td><div style="background-image:url(btn.png);width:225px">'
        '<a href="https://x.test" style="color:#ffffff">Get it now</a></div></td></tr></table>'
    )
    found = finding(analyse(button), "css-background-image")
    assert found is not None and found.severity == Severity.WARNING
    assert "#4f6331" in found.message
    bare = button.replace(' bgcolor="#4f6331"', "")
    assert severity(bare, "css-background-image") == Severity.ERROR


def test_text_in_boxes_of_their_own_colour_does_not_sit_on_a_lost_background() -> None:
    page = (
        '<body bgcolor="#bfe0ca"><table><tr><td style="background-image:url(snow.png)">'
        '<table><tr><td bgcolor="#f55645"><p style="color:#ffffff">Merry Christmas</p></td></tr>'
        "</table></td></tr></table></body>"
    )
    assert severity(page, "css-background-image") == Severity.WARNING
    on_image = page.replace(' bgcolor="#f55645"', "")  # white text right on the light page
    assert severity(on_image, "css-background-image") == Severity.ERROR


def test_rule_blocks_skip_braces_in_parentheses_a_few_times() -> None:
    sheet = ".card { background: url({0}) #222; color: #fff } .next { x: y }"
    start, end = block_bounds(sheet, sheet.index("#222"))
    assert sheet[start + 1 : end].strip() == "background: url({0}) #222; color: #fff"
    hostile = "a {" + "url({0}) " * 5_000 + "x"
    start, _ = block_bounds(hostile, len(hostile) - 1)
    assert start == -1  # gives up after a few: read as no block


def test_an_image_format_as_a_css_background_has_the_background_fallbacks() -> None:
    """A base64 image as a background with a colour behind it (a button's spacer GIF) is
    covered as any background image is (the colour shows: a warning, not a blocker); over no
    colour, the white text is lost with it."""
    gif = "url(data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7)"
    covered = f'<a href="https://x.example" style="background: {gif}, #3b5998; color:#fff">Go</a>'
    bare = f'<div style="background-image: {gif}; color:#ffffff">White text</div>'
    assert severity(covered, "image-base64") == Severity.WARNING
    assert severity(bare, "image-base64") == Severity.ERROR


def test_a_small_unnamed_inline_svg_is_a_decorative_icon() -> None:
    """Gmail drops inline SVG: a small icon with no accessible name costs only the icon (a
    warning); a named or large one (a logo, a chart) is content the reader loses (an error)."""
    path = '<path d="M0 0h10v10H0z" fill="#fff"/>'
    icon = f'<div><svg viewBox="0 0 10 10" width="40" height="40">{path}</svg></div><p>Hi</p>'
    named = f'<svg width="40" height="40" role="img" aria-label="Acme">{path}</svg>'
    titled = f'<svg width="40" height="40"><title>Acme</title>{path}</svg>'
    logo = f'<svg viewBox="0 0 10 10" width="160" height="40">{path}</svg>'
    assert severity(icon, "html-svg") == Severity.WARNING
    for content in (named, titled, logo):
        assert severity(content, "html-svg") == Severity.ERROR, content


def test_a_finding_points_first_at_a_use_no_fallback_covers() -> None:
    """The gate sends the reader to a finding's first location: the use that breaks, not an
    earlier one a fallback covers."""
    gif = "url(data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7)"
    html = (
        f'<a href="https://x.example" style="background: {gif}, #3b5998; color:#fff">Go</a>\n'
        f'<div style="background-image: {gif}; color:#ffffff">White text</div>\n'
    )
    found = finding(analyse(html), "image-base64")
    assert found is not None and found.severity == Severity.ERROR
    assert [loc.line for loc in found.locations] == [2, 1]


def test_a_flex_row_of_inline_items_keeps_them_on_one_line_without_flex() -> None:
    """A "Powered by [logo] Name" footer in a flex row: without flex the spans and the image
    flow on one line as text does; block items or a column would stack instead."""
    logo = '<img src="https://x.example/l.png" width="15" height="15" alt="">'
    inline = (
        '<div style="display: flex; padding: 20px; align-items: center;">'
        f'<span>Powered by </span><span style="display: flex;">{logo}</span><b>Acme</b></div>'
    )
    blocks = '<div style="display: flex;"><div>One</div><div>Two</div></div>'
    column = (
        '<div style="display: flex; flex-direction: column;"><span>a</span><span>b</span></div>'
    )
    assert severity(inline, "css-display-flex") == Severity.WARNING
    assert severity(inline, "css-align-items") == Severity.WARNING
    assert severity(blocks, "css-display-flex") == Severity.ERROR
    assert severity(column, "css-display-flex") == Severity.ERROR
