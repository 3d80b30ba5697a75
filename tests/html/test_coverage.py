"""Every slug of the support data has a detector (proved on a sample) or a stated reason."""

from __future__ import annotations

import pytest

from mailqa.checks.html_detect import DETECTORS, UNDETECTABLE, Detector, detect
from mailqa.core.html import HtmlDocument
from mailqa.rules.caniemail import RulesData

SELECTOR_SAMPLES = {
    "adjacent-sibling": "h1 + p {color: red}",
    "attribute": "[data-x] {color: red}",
    "chaining": ".a.b {color: red}",
    "child": "div > p {color: red}",
    "class": ".a {color: red}",
    "descendant": "div p {color: red}",
    "general-sibling": "h1 ~ p {color: red}",
    "grouping": "h1, h2 {color: red}",
    "id": "#a {color: red}",
    "type": "p {color: red}",
    "universal": "* {color: red}",
}
SPECIAL_SAMPLES = {
    "amp": '<html ⚡4email lang="en"></html>',
    "css-variables": '<p style="color: var(--brand)">x</p>',
    "css-comments": "<style>/* note */ p {color: red}</style>",
    "css-nesting": "<style>.card { & .title { color: red } }</style>",
    "button-reset": '<button type="reset">x</button>',
    "button-submit": '<button type="submit">x</button>',
    "input-checkbox": '<input type="checkbox">',
    "input-hidden": '<input type="hidden">',
    "input-radio": '<input type="radio">',
    "input-reset": '<input type="reset">',
    "input-submit": '<input type="submit">',
    "input-text": '<input type="text">',
    "meta-color-scheme": '<meta name="color-scheme" content="light dark">',
    "anchor-links": '<a href="#top">top</a>',
    "mailto-links": '<a href="mailto:hi@example.com">mail</a>',
    "html-comments": "<!-- note -->",
    "html5-doctype": "<!DOCTYPE html><html></html>",
}


def samples(detector: Detector) -> list[str]:
    """Minimal HTML showing each key of a detector."""
    out = []
    for key in sorted(detector.keys):
        kind = detector.kind
        if kind == "element":
            out.append('<img usemap="#m">' if key == "@usemap" else f"<{key}>x</{key}>")
        elif kind == "attribute":
            out.append(f'<div {key}="x">x</div>')
        elif kind == "property":
            out.append(f'<p style="{key}: 1px">x</p>')
        elif kind == "value":
            prop, _, keyword = key.partition("=")
            if prop == "fn":
                out.append(f'<p style="width: {keyword}(10px)">x</p>')
            else:
                out.append(f'<p style="{"font-family" if prop == "*" else prop}: {keyword}">x</p>')
        elif kind == "function":
            out.append(f'<p style="width: {key}(1px, 2px)">x</p>')
        elif kind == "unit":
            out.append(f'<p style="width: 3{key}">x</p>')
        elif kind == "important":
            out.append('<p style="color: red !important">x</p>')
        elif kind == "at-rule":
            out.append(f"<style>@{key} x {{ p {{ color: red }} }}</style>")
        elif kind == "media-feature":
            out.append(f"<style>@media ({key}: 1) {{ p {{ color: red }} }}</style>")
        elif kind == "pseudo-class":
            out.append(f"<style>a:{key} {{ color: red }}</style>")
            out.append(f"<style>a:{key}(.b) {{ color: red }}</style>")
        elif kind == "pseudo-element":
            out.append(f"<style>p::{key} {{ color: red }}</style>")
        elif kind == "selector":
            out.append(f"<style>{SELECTOR_SAMPLES[key]}</style>")
        elif kind == "image":
            if key == "base64":
                out.append('<img src="data:image/png;base64,iVBORw0KGgo=">')
            elif "+" in key or key.startswith(("x-", "vnd.")):
                out.append(f'<img src="data:image/{key},x">')
            else:
                out.append(f'<img src="https://cdn.example.com/a/b.{key}?v=2">')
        elif kind == "special":
            out.append(SPECIAL_SAMPLES[key])
    return out


def test_every_slug_is_detected_or_explained(rules: RulesData) -> None:
    slugs = set(rules.features)
    unexplained = slugs - set(DETECTORS) - set(UNDETECTABLE)
    assert not unexplained, f"slugs without a detector or a reason: {sorted(unexplained)}"
    assert not set(DETECTORS) & set(UNDETECTABLE)
    stale = (set(DETECTORS) | set(UNDETECTABLE)) - slugs
    assert not stale, f"detectors for slugs the data no longer has: {sorted(stale)}"
    assert len(set(DETECTORS) & slugs) >= 290
    assert all(reason.strip() for reason in UNDETECTABLE.values())


@pytest.mark.parametrize("slug", sorted(DETECTORS))
def test_detector_fires_on_its_sample(slug: str) -> None:
    cases = samples(DETECTORS[slug])
    assert cases
    hits = [html for html in cases if slug in detect(HtmlDocument(html)).counts]
    # Pseudo-classes get a plain and a functional sample; one of the two must fire.
    if DETECTORS[slug].kind == "pseudo-class":
        assert hits, f"{slug} not detected in {cases}"
    else:
        assert hits == cases, f"{slug} missed in {sorted(set(cases) - set(hits))}"
