"""Client emulation: the HTML a client would lay out, approximated before Chromium renders it.

Every profile is **emulated**: Chromium lays out what is left after a profile's transform, not
the client's own engine (Word for Outlook for Windows, WebKit for Apple Mail). A profile:

- drops each CSS declaration, stylesheet rule and at-rule whose caniemail feature the client
  does not support (support value ``n`` for the client's family and platform; partial support
  keeps it), using the html check's detector table (one explicit token per feature slug);
- applies what is known of the client's sanitiser: Outlook for Windows takes the MSO
  conditional content (``<!--[if mso]>``) and skips ``<!--[if !mso]><!-->`` content; Gmail
  for non-Google accounts (IMAP/POP) removes every ``<style>`` element; all profiles drop
  ``<link>`` stylesheets (the renderer never fetches them).

Hostile input costs bounded time: the HTML is scanned once by the shared tokenizer, CSS is
parsed by tinycss2 (linear), and the stylesheet text a profile reads is capped.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import tinycss2
import tinycss2.ast

from mailqa.checks.html_detect.conditional import conditionals
from mailqa.checks.html_detect.engine import index
from mailqa.core.html import HtmlDocument
from mailqa.rules.caniemail import load_rules

MAX_CSS_CHARS = 300_000
"""Stylesheet text one ``<style>`` element may hold before a profile drops it whole."""


@dataclass(frozen=True)
class Profile:
    """One client emulation: which caniemail client's support decides, and its sanitiser."""

    id: str
    name: str
    family: str
    platform: str
    mso: bool = False
    """Take MSO conditional content as Outlook for Windows does."""
    strip_style_elements: bool = False
    """Remove every ``<style>`` element (Gmail with a non-Google account)."""


PROFILES: dict[str, Profile] = {
    p.id: p
    for p in (
        Profile("outlook-windows", "Outlook for Windows", "outlook", "windows", mso=True),
        Profile("gmail", "Gmail (web)", "gmail", "desktop-webmail"),
        Profile(
            "gmail-non-google",
            "Gmail (non-Google account)",
            "gmail",
            "desktop-webmail",
            strip_style_elements=True,
        ),
        Profile("yahoo", "Yahoo! Mail (web)", "yahoo", "desktop-webmail"),
        Profile("apple-mail", "Apple Mail (macOS)", "apple-mail", "macos"),
    )
}


@cache
def unsupported_features(family: str, platform: str) -> frozenset[str]:
    """caniemail slugs the client's current version does not support at all."""
    out: set[str] = set()
    for slug, feature in load_rules().features.items():
        support = feature.support.get(family, {}).get(platform)
        if support is not None and support.value == "n":
            out.add(slug)
    return frozenset(out)


class _CssFilter:
    """Removes from CSS what one client does not support."""

    def __init__(self, unsupported: frozenset[str]) -> None:
        self.unsupported = unsupported
        self.index = index()
        self.dropped = 0

    def _lacks(self, kind: str, key: str) -> bool:
        return any(slug in self.unsupported for slug in self.index.get(kind, key.lower()))

    def _declaration_ok(self, decl: tinycss2.ast.Declaration) -> bool:
        name = decl.lower_name
        if name.startswith("--"):
            return "css-variables" not in self.unsupported
        if self._lacks("property", name):
            return False
        if decl.important and "css-important" in self.unsupported:
            return False
        for token in _walk(decl.value):
            if isinstance(token, tinycss2.ast.IdentToken) and (
                self._lacks("value", f"{name}={token.lower_value}")
                or self._lacks("value", f"*={token.lower_value}")
            ):
                return False
            if isinstance(token, tinycss2.ast.FunctionBlock) and self._lacks(
                "function", token.lower_name
            ):
                return False
        return True

    def declarations(self, nodes: Iterable[tinycss2.ast.Node]) -> str:
        kept: list[str] = []
        for node in nodes:
            if not isinstance(node, tinycss2.ast.Declaration):
                continue
            if self._declaration_ok(node):
                value = tinycss2.serialize(node.value).strip()
                kept.append(f"{node.name}: {value}{' !important' if node.important else ''}")
            else:
                self.dropped += 1
        return "; ".join(kept)

    def inline(self, text: str) -> str:
        return self.declarations(
            tinycss2.parse_blocks_contents(text, skip_comments=True, skip_whitespace=True)
        )

    def _selector_ok(self, prelude: Sequence[tinycss2.ast.Node]) -> bool:
        colons = 0
        for token in prelude:
            if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ":":
                colons += 1
                continue
            if colons and isinstance(token, tinycss2.ast.IdentToken | tinycss2.ast.FunctionBlock):
                name = str(
                    token.lower_value
                    if isinstance(token, tinycss2.ast.IdentToken)
                    else token.lower_name
                )
                kind = "pseudo-element" if colons == 2 else "pseudo-class"
                if self._lacks(kind, name):
                    return False
            if isinstance(token, tinycss2.ast.SquareBracketsBlock) and self._lacks(
                "selector", "attribute"
            ):
                return False
            if isinstance(token, tinycss2.ast.LiteralToken) and token.value in ">+~":
                form = {">": "child", "+": "adjacent-sibling", "~": "general-sibling"}
                if self._lacks("selector", form[token.value]):
                    return False
            colons = 0
        return True

    def _media_ok(self, prelude: Sequence[tinycss2.ast.Node]) -> bool:
        for token in _walk(prelude):
            if isinstance(token, tinycss2.ast.ParenthesesBlock):
                for inner in token.content:
                    if isinstance(inner, tinycss2.ast.IdentToken):
                        feature = inner.lower_value.removeprefix("min-").removeprefix("max-")
                        if self._lacks("media-feature", feature):
                            return False
                        break
        return True

    def stylesheet(self, nodes: Iterable[tinycss2.ast.Node]) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, tinycss2.ast.QualifiedRule):
                if not self._selector_ok(node.prelude):
                    self.dropped += 1
                    continue
                body = self.declarations(
                    tinycss2.parse_blocks_contents(
                        node.content, skip_comments=True, skip_whitespace=True
                    )
                )
                out.append(f"{tinycss2.serialize(node.prelude).strip()} {{ {body} }}")
            elif isinstance(node, tinycss2.ast.AtRule):
                if self._lacks("at-rule", node.lower_at_keyword):
                    self.dropped += 1
                    continue
                prelude = tinycss2.serialize(node.prelude).strip()
                if node.lower_at_keyword == "media" and node.content is not None:
                    if not self._media_ok(node.prelude):
                        self.dropped += 1
                        continue
                    inner = tinycss2.parse_blocks_contents(
                        node.content, skip_comments=True, skip_whitespace=True
                    )
                    rules = tinycss2.parse_rule_list(
                        tinycss2.serialize(inner), skip_comments=True, skip_whitespace=True
                    )
                    out.append(f"@media {prelude} {{ {self.stylesheet(rules)} }}")
                else:
                    out.append(node.serialize())
        return "\n".join(out)

    def sheet_text(self, text: str) -> str:
        if len(text) > MAX_CSS_CHARS:
            self.dropped += 1
            return ""
        return self.stylesheet(
            tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
        )


def _walk(nodes: Iterable[tinycss2.ast.Node]) -> Iterable[tinycss2.ast.Node]:
    """Tokens of a component value list, nested blocks and functions included (iteratively)."""
    stack = list(nodes)[::-1]
    while stack:
        node = stack.pop()
        yield node
        content = getattr(node, "arguments", None) or getattr(node, "content", None)
        if isinstance(content, list):
            stack.extend(content[::-1])


def _splice(source: str, edits: list[tuple[int, int, str]]) -> str:
    """``source`` with each (start, end, text) edit applied; overlapping later edits are
    skipped (an edit inside a removed range has nothing left to change)."""
    out: list[str] = []
    at = 0
    for start, end, text in sorted(edits, key=lambda e: (e[0], -e[1])):
        if start < at:
            continue
        out.append(source[at:start])
        out.append(text)
        at = end
    out.append(source[at:])
    return "".join(out)


def outlook_conditionals(source: str) -> str:
    """``source`` as Outlook for Windows reads its conditional comments: the bodies of
    ``<!--[if mso]>`` comments become content, ``<!--[if !mso]><!-->`` content goes."""
    doc = HtmlDocument(source)
    found = conditionals(doc)
    edits: list[tuple[int, int, str]] = []
    for start, end in found.outlook_ranges:
        comment = source[start:end]
        body_at = comment.find("]>")
        body = comment[body_at + 2 :] if body_at >= 0 else ""
        for closer in ("-->", "--!>"):
            if body.endswith(closer):
                body = body[: -len(closer)]
                break
        endif = body.rfind("<![endif]")
        if endif >= 0:
            body = body[:endif]
        edits.append((start, end, body))
    edits.extend((start, end, "") for start, end in found.hidden_from_outlook)
    return _splice(source, edits)


@dataclass(frozen=True)
class Emulated:
    html: str
    dropped_css: int
    """CSS declarations, rules and at-rules the profile removed."""


def emulate(source: str, profile: Profile) -> Emulated:
    """The document ``profile``'s client would lay out (see the module docstring)."""
    if profile.mso:
        source = outlook_conditionals(source)
    css = _CssFilter(unsupported_features(profile.family, profile.platform))
    doc = HtmlDocument(source)
    scan = doc.scan
    edits: list[tuple[int, int, str]] = []
    for span in scan.styles:
        # Gmail without a Google account empties the element: its text goes, the tag is inert.
        text = "" if profile.strip_style_elements else css.sheet_text(span.text)
        edits.append((span.offset, span.offset + len(span.text), text))
    for element in scan.elements:
        if element.name == "link" and "stylesheet" in (element.get("rel") or "").lower():
            end = source.find(">", element.offset)
            edits.append((element.offset, end + 1 if end >= 0 else len(source), ""))
            continue
        attr = element.attribute("style")
        if attr is None or attr.value_offset < 0:
            continue
        kept = css.inline(attr.value)
        edits.append(
            (
                attr.value_offset,
                attr.value_offset + len(attr.raw_value),
                html_lib.escape(kept, quote=True),
            )
        )
    return Emulated(html=_splice(source, edits), dropped_css=css.dropped)
