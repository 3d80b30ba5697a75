"""The default gate's verdict on templates that break the way real ones break, and on their twins.

``tests/html/verdicts/manifest.yaml`` lists pairs: a broken template (one construct that hurts
what the recipient sees, the rest written as battle-tested templates write it) and its fixed
twin (the same email with the fallback email developers use). On the default gate
(``mailqa check FILE``: offline, fails on blocking findings):

- each broken template fails, blocked by the manifest's rule at the manifest's line;
- each fixed twin passes, and so do the tricky clean templates the manifest lists.

The twins are also read with the standard library's HTML parser, independently of mailqa:
the broken construct must be gone or behind its fallback, and the email's content must still
be there, so a twin cannot pass by deleting what is under test. The same checks run on the
broken templates and must find the problem there, so each check can fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from mailqa.cli.main import app
from mailqa.rules.caniemail import RulesData

VERDICTS = Path(__file__).parent / "verdicts"
MANIFEST: dict[str, Any] = yaml.safe_load((VERDICTS / "manifest.yaml").read_text("utf-8"))
PAIRS: list[dict[str, Any]] = MANIFEST["pairs"]
CLEAN: list[dict[str, Any]] = MANIFEST["clean"]


def _pair_id(pair: dict[str, Any]) -> str:
    return str(pair["broken"]).removesuffix(".broken.html")


def _clean_id(entry: dict[str, Any]) -> str:
    return str(entry["file"]).removesuffix(".html")


by_pair = pytest.mark.parametrize("pair", PAIRS, ids=_pair_id)
by_clean = pytest.mark.parametrize("entry", CLEAN, ids=_clean_id)
MUST_PASS = [p["fixed"] for p in PAIRS] + [c["file"] for c in CLEAN]
EVERY_TEMPLATE = [p["broken"] for p in PAIRS] + MUST_PASS


# --------------------------------------------------------------------------- the gate


@dataclass
class Verdict:
    """``mailqa check --format json FILE`` for one file."""

    exit_code: int
    findings: list[dict[str, Any]]
    report: dict[str, Any]

    @property
    def blocking(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["blocking"]]

    def blocking_lines(self, rule: str) -> set[int]:
        """Lines of the blocking findings of ``rule``: the gate's own and, for html rules,
        every location the html check reported for it."""
        found = [f for f in self.blocking if f["rule"] == rule]
        lines = {f["line"] for f in found if f["line"] is not None}
        if found and found[0]["check"] == "html":
            for finding in self.report["checks"]["html"]["findings"]:
                if finding["rule"] == rule:
                    lines.update(loc["line"] for loc in finding["locations"] if loc["line"])
        return lines

    def describe_blocking(self) -> str:
        return ", ".join(f"{f['rule']} (line {f['line']})" for f in self.blocking) or "nothing"


Gate = Callable[[str], Verdict]


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gate:
    """``mailqa check NAME`` in-process on defaults, as the tests in tests/gate run it: the
    template is copied into an empty folder that is the working directory (no configuration
    file is found) and no MAILQA_* setting is in force."""
    for key in list(os.environ):
        if key.startswith("MAILQA_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(name: str) -> Verdict:
        shutil.copy(VERDICTS / name, tmp_path / name)
        result = runner.invoke(app, ["check", "--jobs", "1", "--format", "json", name])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
        (file,) = json.loads(result.stdout)["files"]
        assert file["error"] is None, file["error"]
        return Verdict(result.exit_code, file["findings"], file["report"])

    return run


# --------------------------------------------------------------------------- the manifest


def test_manifest_covers_every_template_once(rules: RulesData) -> None:
    listed = EVERY_TEMPLATE
    assert len(listed) == len(set(listed)), "a template is listed twice"
    on_disk = sorted(p.name for p in VERDICTS.glob("*.html"))
    assert sorted(listed) == on_disk
    for pair in PAIRS:
        assert pair["rule"] in rules.features, f"{pair['rule']} is no caniemail slug"
        assert pair["why"].strip() and pair["keep"], pair["broken"]
    for entry in CLEAN:
        assert entry["must_pass"] is True and entry["why"].strip(), entry["file"]


@by_pair
def test_manifest_line_holds_the_construct(pair: dict[str, Any]) -> None:
    lines = (VERDICTS / pair["broken"]).read_text("utf-8").splitlines()
    assert 1 <= pair["line"] <= len(lines)
    assert pair["construct"] in lines[pair["line"] - 1], (pair["line"], pair["construct"])
    fixed = (VERDICTS / pair["fixed"]).read_text("utf-8")
    assert 80 <= len(lines) <= 200 and 80 <= len(fixed.splitlines()) <= 200


# --------------------------------------------------------------------------- verdicts


@by_pair
def test_broken_template_is_blocked_by_its_rule_at_its_line(
    pair: dict[str, Any], gate: Gate
) -> None:
    verdict = gate(pair["broken"])
    assert verdict.exit_code == 1, f"the gate passed {pair['broken']}"
    lines = verdict.blocking_lines(pair["rule"])
    assert lines, f"{pair['rule']} does not block; blocking: {verdict.describe_blocking()}"
    assert pair["line"] in lines, f"{pair['rule']} blocks at lines {sorted(lines)}"


@by_pair
def test_fixed_twin_passes(pair: dict[str, Any], gate: Gate) -> None:
    verdict = gate(pair["fixed"])
    assert verdict.exit_code == 0 and not verdict.blocking, (
        f"{pair['fixed']} is blocked by {verdict.describe_blocking()}"
    )


@by_clean
def test_clean_template_passes(entry: dict[str, Any], gate: Gate) -> None:
    verdict = gate(entry["file"])
    assert verdict.exit_code == 0 and not verdict.blocking, (
        f"{entry['file']} is blocked by {verdict.describe_blocking()}"
    )


# --------------------------------------------------------------------------- reading markup

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
NOT_SHOWN = frozenset({"head", "title", "style", "script"})
RASTER = (".png", ".jpg", ".jpeg", ".gif")
_CONDITIONAL = re.compile(r"^\[if ([^\]]*)\]>(.*)<!\[endif\]$", re.S)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")
_HEX = re.compile(r"^#([0-9a-f]{3}|[0-9a-f]{6})$", re.I)


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    line: int
    parents: tuple[Element, ...]
    mso_only: bool
    """Inside a conditional comment only Outlook for Windows reads (``<!--[if mso]>``)."""
    not_mso: bool
    """Inside ``<!--[if !mso]><!-->`` ... ``<!--<![endif]-->``: every client but Outlook."""
    after_mso: str
    """The Outlook-only markup right before the element (nothing but space in between)."""
    opens_mso: str = ""
    """The Outlook-only markup right inside the element, before anything else."""

    @property
    def style(self) -> dict[str, str]:
        return declarations(self.attrs.get("style", ""))

    def within(self, other: Element) -> bool:
        return any(p is other for p in self.parents)


@dataclass(eq=False)
class Text:
    text: str
    line: int
    parents: tuple[Element, ...]

    def within(self, other: Element) -> bool:
        return any(p is other for p in self.parents)


def declarations(css: str) -> dict[str, str]:
    """``prop: value`` pairs of a declaration list (lower-case property, the last one wins,
    ``!important`` dropped)."""
    out: dict[str, str] = {}
    for item in css.split(";"):
        name, colon, value = item.partition(":")
        if colon:
            out[name.strip().lower()] = value.replace("!important", "").strip().lower()
    return out


class Markup(HTMLParser):
    """A template as an HTML client that is not Outlook for Windows reads it, with the
    Outlook-only conditional comments parsed on the side (``mso``)."""

    def __init__(self, source: str, *, mso_only: bool = False, first_line: int = 1) -> None:
        super().__init__(convert_charrefs=True)
        self.mso_only = mso_only
        self.first_line = first_line
        self.elements: list[Element] = []
        self.texts: list[Text] = []
        self.style_blocks: list[str] = []
        self.mso: list[Markup] = []
        self._stack: list[Element] = []
        self._not_mso = False
        self._after_mso = ""
        self._opened: Element | None = None
        self.feed(source)
        self.close()

    @classmethod
    def of(cls, name: str) -> Markup:
        return cls((VERDICTS / name).read_text("utf-8"))

    def _line(self) -> int:
        return self.first_line + self.getpos()[0] - 1

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        element = Element(
            tag,
            {k: v or "" for k, v in attrs},
            self._line(),
            tuple(self._stack),
            self.mso_only,
            self._not_mso,
            self._after_mso,
        )
        self._after_mso = ""
        self._opened = None
        self.elements.append(element)
        return element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._element(tag, attrs)
        if tag not in VOID:
            self._stack.append(element)
            self._opened = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._opened = None
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i].tag == tag:
                del self._stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1].tag == "style":
            self.style_blocks.append(data)
        elif data.strip():
            self._after_mso = ""
            self._opened = None
            self.texts.append(Text(data, self._line(), tuple(self._stack)))

    def handle_comment(self, data: str) -> None:
        match = _CONDITIONAL.match(data)
        if match:
            condition, inner = match.groups()
            if "mso" in condition and "!" not in condition:
                self.mso.append(Markup(inner, mso_only=True, first_line=self._line()))
                self._after_mso += inner
                if self._opened is not None:
                    self._opened.opens_mso += inner
        elif data.startswith("[if !mso]"):
            self._not_mso = True
        elif data.strip() == "<![endif]":
            self._not_mso = False

    # -- what a reader gets

    def css(self) -> str:
        """Every piece of CSS the clients other than Outlook for Windows read."""
        return "\n".join([*self.style_blocks, *(e.attrs.get("style", "") for e in self.elements)])

    def css_values(self, prop: str) -> list[str]:
        pattern = re.compile(rf"(?<![\w-]){re.escape(prop)}\s*:\s*([^;{{}}]+)", re.I)
        return [v.replace("!important", "").strip().lower() for v in pattern.findall(self.css())]

    def shown_texts(self) -> list[Text]:
        return [t for t in self.texts if not any(p.tag in NOT_SHOWN for p in t.parents)]

    def text_of(self, element: Element) -> str:
        return " ".join(" ".join(t.text.split()) for t in self.texts if t.within(element))

    def perceivable(self) -> str:
        """The text a reader gets: shown text and the alt text of images."""
        parts = [t.text for t in self.shown_texts()]
        parts += [e.attrs.get("alt", "") for e in self.elements if e.tag == "img"]
        return " ".join(" ".join(parts).split())

    def tags(self, *names: str) -> list[Element]:
        return [e for e in self.elements if e.tag in names]

    def mso_tags(self, *names: str) -> Iterator[Element]:
        for block in self.mso:
            yield from block.tags(*names)

    def image_urls(self) -> list[str]:
        urls = [e.attrs.get("src", "") for e in self.tags("img")]
        urls += [u for e in self.tags("source", "img") for u in srcset(e.attrs.get("srcset", ""))]
        urls += _CSS_URL.findall(self.css())
        return [u.strip() for u in urls if u.strip()]

    def nearest(self, text: Text, tag: str) -> Element | None:
        return next((p for p in reversed(text.parents) if p.tag == tag), None)


def srcset(value: str) -> list[str]:
    return [c.split()[0] for c in value.split(",") if c.split()]


def stem(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def is_raster(url: str) -> bool:
    return url.startswith("https://") and urlsplit(url).path.lower().endswith(RASTER)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two hex colours."""

    def luminance(colour: str) -> float:
        match = _HEX.match(colour.strip())
        assert match, f"not a hex colour: {colour!r}"
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        channels = []
        for i in (0, 2, 4):
            c = int(digits[i : i + 2], 16) / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_colour(text: Text) -> str | None:
    return next((p.style["color"] for p in reversed(text.parents) if "color" in p.style), None)


def cell_colour(element: Element) -> str | None:
    return element.attrs.get("bgcolor") or element.style.get("background-color")


# --------------------------------------------------------------------------- fallbacks
#
# One check per rule: what is wrong with ``candidate`` (the twin, or the broken template
# itself) given the broken ``original``. Nothing wrong: the construct is gone or behind the
# fallback email developers use for it.


def _flex(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    if any(v in ("flex", "inline-flex") for v in candidate.css_values("display")):
        problems.append("display:flex is still used")
    cells: list[Element] = []
    for name in keep:
        texts = [t for t in candidate.shown_texts() if name in t.text]
        cell = candidate.nearest(texts[0], "td") if texts else None
        if cell is None:
            problems.append(f"{name!r} is not in a table cell")
        else:
            cells.append(cell)
    if len({id(c) for c in cells}) < len(cells):
        problems.append("the products share a table cell: the grid is not a table")
    return problems


def _background(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    boxes = [
        e
        for e in candidate.elements
        if _CSS_URL.search(e.style.get("background-image", "") or e.style.get("background", ""))
    ]
    if not boxes:
        problems.append("no CSS background image left: the image was dropped")
    for box in boxes:
        url = _CSS_URL.findall(box.style.get("background-image", "") or box.style["background"])[0]
        where = f"<{box.tag}> on line {box.line}"
        if not box.attrs.get("bgcolor"):
            problems.append(f"{where} has no bgcolor")
        if not box.style.get("background-color"):
            problems.append(f"{where} has no background-color")
        fills = [f for f in candidate.mso_tags("v:fill", "v:image") if f.attrs.get("src") == url]
        if not fills or not any(True for _ in candidate.mso_tags("v:rect")):
            problems.append(f"{where} has no VML v:rect/v:fill with {url} for Outlook")
        colour = cell_colour(box)
        for text in (t for t in candidate.shown_texts() if t.within(box)):
            fg = text_colour(text)
            if colour and fg and contrast(fg, colour) < 4.5:
                problems.append(f"text on line {text.line} is unreadable on {colour}")
    return problems


def _svg(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    if candidate.tags("svg"):
        problems.append("an inline <svg> is still used")
    for svg in original.tags("svg"):
        titles = [original.text_of(t) for t in original.tags("title") if t.within(svg)]
        name = svg.attrs.get("aria-label") or (titles[0] if titles else "")
        if not any(
            is_raster(i.attrs.get("src", "")) and i.attrs.get("alt") == name
            for i in candidate.tags("img")
        ):
            problems.append(f"no hosted PNG/JPEG/GIF with alt={name!r} stands in for the SVG")
    return problems


def _webp(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    for img in candidate.tags("img"):
        if urlsplit(img.attrs.get("src", "")).path.lower().endswith(".webp"):
            problems.append(f"<img> on line {img.line} has a WebP src")
    for source in candidate.tags("source"):
        if not any(u.lower().endswith(".webp") for u in srcset(source.attrs.get("srcset", ""))):
            continue
        picture = next((p for p in reversed(source.parents) if p.tag == "picture"), None)
        if source.attrs.get("type") != "image/webp" or picture is None:
            problems.append(f"WebP <source> on line {source.line} is not typed in a <picture>")
            continue
        fallback = [i for i in candidate.tags("img") if i.within(picture)]
        if not any(is_raster(i.attrs.get("src", "")) and i.attrs.get("alt") for i in fallback):
            problems.append(f"the <picture> on line {picture.line} has no JPEG/PNG <img>")
    for url in original.image_urls():
        if url.lower().endswith(".webp") and not any(
            is_raster(u) and stem(u) == stem(url) for u in candidate.image_urls()
        ):
            problems.append(f"no JPEG/PNG/GIF of {stem(url)} for clients without WebP")
    return problems


def _form(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    controls = candidate.tags("form", "input", "button", "select", "textarea")
    if controls:
        problems.append(f"form controls are still used: <{controls[0].tag}>")
    for form in original.tags("form"):
        action = form.attrs["action"]
        buttons = [b for b in original.tags("button") if b.within(form)]
        label = original.text_of(buttons[0]) if buttons else ""
        links = [
            a
            for a in candidate.tags("a")
            if urlsplit(a.attrs.get("href", ""))._replace(query="").geturl() == action
            and candidate.text_of(a) == label
        ]
        if not links:
            problems.append(f"no link {label!r} to the hosted form {action}")
        for link in links:
            cell = next((p for p in reversed(link.parents) if p.tag == "td"), None)
            painted = link.style.get("background-color") or (cell and cell_colour(cell))
            if not painted:
                problems.append(f"the link on line {link.line} is not a button (no background)")
    return problems


def _position(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    if candidate.css_values("position"):
        problems.append("CSS position is still used")
    badges = {
        " ".join(t.text.split())
        for e in original.elements
        if e.style.get("position") == "absolute"
        for t in original.shown_texts()
        if t.within(e)
    }
    for badge in badges:
        texts = [t for t in candidate.shown_texts() if " ".join(t.text.split()) == badge]
        cells = [t.parents[-1] for t in texts if t.parents and t.parents[-1].tag == "td"]
        if len(cells) < len(texts) or not texts or not all(cell_colour(c) for c in cells):
            problems.append(f"the {badge!r} badges are not each in a coloured table cell")
    return problems


def _video(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    videos = candidate.tags("video")
    for video in videos:
        if not video.not_mso:
            problems.append(f"<video> on line {video.line} is shown to every client")
    if videos and not any(True for _ in candidate.mso_tags("img")):
        problems.append("no poster image for Outlook next to the <video>")
    if not videos:
        linked = [
            i
            for a in candidate.tags("a")
            if a.attrs.get("href", "").startswith("https://")
            for i in candidate.tags("img")
            if i.within(a) and re.search(r"\b(play|watch|video)\b", i.attrs.get("alt", ""), re.I)
        ]
        if not linked:
            problems.append("no linked poster image (alt naming the video) stands in for it")
    return problems


def _base64(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    problems = []
    values = [v for e in candidate.elements for v in e.attrs.values()]
    if any(v.strip().lower().startswith("data:") for v in values) or "data:" in candidate.css():
        problems.append("a data: URI is still used")
    for img in original.tags("img"):
        if img.attrs.get("src", "").startswith("data:"):
            alt = img.attrs.get("alt", "")
            if not any(
                is_raster(i.attrs.get("src", "")) and i.attrs.get("alt") == alt
                for i in candidate.tags("img")
            ):
                problems.append(f"no hosted image with alt={alt!r} replaces the data: image")
    return problems


FallbackCheck = Callable[[Markup, Markup, list[str]], list[str]]
FALLBACKS: dict[str, FallbackCheck] = {
    "css-display-flex": _flex,
    "css-background-image": _background,
    "html-svg": _svg,
    "image-webp": _webp,
    "html-form": _form,
    "css-position": _position,
    "html-video": _video,
    "image-base64": _base64,
}


def content_problems(original: Markup, candidate: Markup, keep: list[str]) -> list[str]:
    """What the reader of ``candidate`` lost from ``original``."""
    problems = []
    text = candidate.perceivable()
    for item in keep:
        if item not in text:
            problems.append(f"{item!r} is gone")
    words = set(re.findall(r"\w+", original.perceivable().lower()))
    kept = words & set(re.findall(r"\w+", text.lower()))
    if len(kept) < 0.9 * len(words):
        problems.append(f"only {len(kept)} of {len(words)} words of the text are left")
    stems = {stem(u) for u in candidate.image_urls()}
    for url in original.image_urls():
        if not url.startswith("data:") and stem(url) not in stems:
            problems.append(f"image {stem(url)} is gone")
    return problems


@by_pair
def test_fixed_twin_has_the_fallback_and_keeps_the_content(pair: dict[str, Any]) -> None:
    broken, fixed = Markup.of(pair["broken"]), Markup.of(pair["fixed"])
    check = FALLBACKS[pair["rule"]]
    assert check(broken, broken, pair["keep"]), "the check finds nothing wrong in the broken one"
    assert check(broken, fixed, pair["keep"]) == []
    assert content_problems(broken, broken, pair["keep"]) == []  # the manifest's keep is right
    assert content_problems(broken, fixed, pair["keep"]) == []


@dataclass
class _Probe:
    """A twin with its fallback taken out again: the check must see it."""

    pair: str
    edit: Callable[[str], str]


_UNDONE = [
    _Probe(
        "background-image-text", lambda s: re.sub(r"<!--\[if gte mso 9\]>.*?-->", "", s, flags=re.S)
    ),
    _Probe("background-image-text", lambda s: s.replace('bgcolor="#2f4a3a" ', "")),
    _Probe("background-image-text", lambda s: s.replace("#2f4a3a", "#f4f4f4")),
    _Probe("webp-hero", lambda s: s.replace("drizzle-shell-hero.jpg", "drizzle-shell-hero.webp")),
    _Probe("webp-hero", lambda s: s.replace(' type="image/webp"', "")),
    _Probe("signup-form", lambda s: s.replace("/trail-club/join?", "/trail-club?")),
    _Probe(
        "positioned-sale-badge",
        lambda s: s.replace(
            '<td bgcolor="#b3261e" style="background-color: #b3261e;', '<td style="'
        ),
    ),
    _Probe("video-demo", lambda s: s.replace("Play the video: ", "")),
    _Probe("flex-product-grid", lambda s: s.replace("Merino Trail Socks</p>", "</p>")),
    _Probe("inline-svg-logo", lambda s: s.replace('alt="Fernway Outfitters"', 'alt=""')),
]


@pytest.mark.parametrize("probe", _UNDONE, ids=lambda p: p.pair)
def test_a_twin_without_its_fallback_is_caught(probe: _Probe) -> None:
    (pair,) = [p for p in PAIRS if _pair_id(p) == probe.pair]
    source = (VERDICTS / pair["fixed"]).read_text("utf-8")
    edited = probe.edit(source)
    assert edited != source, "the edit no longer applies to the twin"
    broken = Markup.of(pair["broken"])
    candidate = Markup(edited)
    problems = FALLBACKS[pair["rule"]](broken, candidate, pair["keep"])
    problems += content_problems(broken, candidate, pair["keep"])
    assert problems


# --------------------------------------------------------------------------- the rest is clean

CHAIN = {
    "display": "none",
    "max-height": "0",
    "overflow": "hidden",
    "mso-hide": "all",
    "font-size": "1px",
    "line-height": "1px",
    "opacity": "0",
}


def rest_problems(markup: Markup) -> list[str]:
    """Battle-tested habits every template here keeps outside the construct under test."""
    problems = []
    body = markup.tags("body")[0]
    first = next(t for t in markup.shown_texts() if t.within(body))
    holder = first.parents[-1]
    missing = {k: v for k, v in CHAIN.items() if holder.style.get(k) != v}
    if missing:
        problems.append(f"the preheader (line {first.line}) lacks {missing}")
    for div in markup.tags("div"):  # the ghost table wraps the div or sits right inside it
        ghost = div.after_mso if "<t" in div.after_mso else div.opens_mso
        if "max-width" in div.style and not re.search(r"<t[ad][^>]*\bwidth=", ghost):
            problems.append(f"max-width <div> on line {div.line} has no MSO ghost table")
    for button in markup.mso_tags("v:roundrect"):
        href = button.attrs.get("href")
        if not any(
            a.attrs.get("href") == href and (a.not_mso or a.style.get("mso-hide") == "all")
            for a in markup.tags("a")
        ):
            problems.append(f"VML button to {href} has no HTML link hidden from Outlook")
    for img in markup.tags("img"):
        if not (img.attrs.get("width") and img.attrs.get("height") and "alt" in img.attrs):
            problems.append(f"<img> on line {img.line} lacks alt, width or height")
        src = img.attrs.get("src", "")
        if src.startswith("http") and not is_raster(src) and not src.lower().endswith(".webp"):
            problems.append(f"<img> on line {img.line} is no hosted PNG/JPEG/GIF")
    return problems


@pytest.mark.parametrize("name", EVERY_TEMPLATE)
def test_the_rest_of_each_template_is_clean(name: str) -> None:
    assert rest_problems(Markup.of(name)) == []


@by_clean
def test_clean_template_keeps_what_makes_it_tricky(entry: dict[str, Any]) -> None:
    source = (VERDICTS / entry["file"]).read_text("utf-8")
    for text in entry["contains"]:
        assert text in source, text


def test_the_rest_checks_can_fail() -> None:
    source = (VERDICTS / "clean-hybrid-vml-buttons.html").read_text("utf-8")
    edits = [
        source.replace("line-height: 1px; opacity: 0;", "line-height: 1px;", 1),
        source.replace(
            "-webkit-text-size-adjust: none; mso-hide: all;", "-webkit-text-size-adjust: none;"
        ),
        source.replace('width="270" height="180"', 'width="270"', 1),
    ]
    for edited in edits:
        assert edited != source
        assert rest_problems(Markup(edited))
    ghostless = re.sub(r"<!--\[if mso\]>\s*<table[^<]*width=\"600\">.*?-->", "", source, flags=re.S)
    assert ghostless != source
    assert rest_problems(Markup(ghostless))
