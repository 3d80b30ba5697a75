"""The word lists and names the accessibility rules compare against: vague link texts per
language, alt texts that say nothing, WAI-ARIA roles and attributes, focusable elements."""

from __future__ import annotations

import re
import unicodedata


def words(text: str) -> frozenset[str]:
    """The white-space separated words of ``text``."""
    return frozenset(text.split())


def _phrases(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.split(",") if p.strip())


VAGUE_LINK_TEXT: dict[str, frozenset[str]] = {
    "en": _phrases(
        "click here, click, here, read more, more, learn more, more info, more information, "
        "this link, link, continue, go, details, see more, find out more, click this link"
    ),
    "de": _phrases(
        "hier klicken, klicken sie hier, klick hier, hier, mehr, weiterlesen, mehr lesen, "
        "mehr erfahren, mehr infos, weitere informationen, link, details, weiter"
    ),
    "fr": _phrases(
        "cliquez ici, cliquer ici, clique ici, ici, lire la suite, en savoir plus, plus, "
        "suite, lien, voir plus, plus d'infos, la suite"
    ),
    "es": _phrases(
        "haga clic aquí, haz clic aquí, clic aquí, pulsa aquí, aquí, leer más, más, ver más, "
        "saber más, más información, enlace"
    ),
    "it": _phrases(
        "clicca qui, fai clic qui, clicca, qui, leggi di più, di più, altro, scopri di più, "
        "leggi tutto, leggi, maggiori informazioni, link"
    ),
    "nl": _phrases("klik hier, klik, hier, lees meer, meer, meer lezen, meer info, lees verder"),
    "pt": _phrases(
        "clique aqui, clica aqui, aqui, leia mais, saiba mais, mais, ler mais, veja mais, "
        "mais informações, link"
    ),
}
"""Texts that say nothing about where a link goes (WCAG 2.4.4), matched whole, lower-cased,
accents and punctuation ignored: "Read more »" is vague, "Read more about our spring sale"
is not."""

_PUNCTUATION = re.compile(r"[^\w\s']+")


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, white space folded."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_PUNCTUATION.sub(" ", bare.replace("’", "'")).split())


_VAGUE_FOLDED: dict[str, frozenset[str]] = {
    language: frozenset(fold(p) for p in phrases) for language, phrases in VAGUE_LINK_TEXT.items()
}


def vague_link_languages(text: str) -> list[str]:
    """The languages in whose list ``text`` is a vague link text (empty: it is not)."""
    folded = fold(text)
    return [language for language, phrases in _VAGUE_FOLDED.items() if folded in phrases]


_MERGE_TAG = re.compile(
    r"\{\{[^{}]{0,200}\}\}|\{%[^%]{0,200}%\}|\*\|[^|]{0,200}\|\*|\[\[[^\]]{0,200}\]\]"
    r"|\$\{[^}]{0,200}\}|<%[^%]{0,200}%>|%%[^%]{0,200}%%"
)
"""Template variables (``{{name}}``, ``*|FNAME|*``, ``{% if %}``, ``%%Name%%``...): filled in
when the message is sent, so their letters are not the reader's text."""


def without_merge_tags(text: str) -> str:
    return _MERGE_TAG.sub(" ", text)


MEANINGLESS_ALT = _phrases(
    "image, img, picture, photo, graphic, pic, banner, spacer, icon, logo image, untitled, "
    "alt, alt text, placeholder, blank, bild, foto, grafik, imagen, imagem, immagine, "
    "afbeelding, photo, image1"
)
"""Alt texts that name the kind of thing instead of saying what it shows."""
_FILE_NAME = re.compile(r"^\S+\.(?:png|jpe?g|gif|webp|svg|bmp|tiff?|avif|heic)$", re.I)
_PLACEHOLDER_ALT = re.compile(r"^(?:image|img|photo|picture|dsc|screenshot)[\s_-]*\d+$", re.I)


def meaningless_alt(alt: str) -> str | None:
    """Why ``alt`` says nothing about the image (a file name, "image"), or None."""
    text = alt.strip()
    if _FILE_NAME.match(text):
        return "a file name"
    if fold(text) in MEANINGLESS_ALT or _PLACEHOLDER_ALT.match(text):
        return "a word for an image, not what it shows"
    return None


ARIA_ROLES = words("""
    alert alertdialog application article banner blockquote button caption cell checkbox
    code columnheader combobox comment complementary contentinfo definition deletion dialog
    directory document emphasis feed figure form generic grid gridcell group heading image
    img insertion link list listbox listitem log main mark marquee math meter menu menubar
    menuitem menuitemcheckbox menuitemradio navigation none note option paragraph
    presentation progressbar radio radiogroup region row rowgroup rowheader scrollbar search
    searchbox separator slider spinbutton status strong subscript suggestion superscript
    switch tab table tablist tabpanel term textbox time timer toolbar tooltip tree treegrid
    treeitem graphics-document graphics-object graphics-symbol
    doc-abstract doc-acknowledgments doc-afterword doc-appendix doc-backlink doc-biblioentry
    doc-bibliography doc-biblioref doc-chapter doc-colophon doc-conclusion doc-cover
    doc-credit doc-credits doc-dedication doc-endnote doc-endnotes doc-epigraph doc-epilogue
    doc-errata doc-example doc-footnote doc-foreword doc-glossary doc-glossref doc-index
    doc-introduction doc-noteref doc-notice doc-pagebreak doc-pagefooter doc-pageheader
    doc-pagelist doc-part doc-preface doc-prologue doc-pullquote doc-qna doc-subtitle doc-tip
    doc-toc
    """)
"""The non-abstract roles of WAI-ARIA 1.2 (and 1.3's ``comment``, ``mark``, ``suggestion``,
``image``), DPUB-ARIA and the Graphics module."""

ARIA_ATTRIBUTES = words("""
    aria-activedescendant aria-atomic aria-autocomplete aria-braillelabel
    aria-brailleroledescription aria-busy aria-checked aria-colcount aria-colindex
    aria-colindextext aria-colspan aria-controls aria-current aria-describedby
    aria-description aria-details aria-disabled aria-dropeffect aria-errormessage
    aria-expanded aria-flowto aria-grabbed aria-haspopup aria-hidden aria-invalid
    aria-keyshortcuts aria-label aria-labelledby aria-level aria-live aria-modal
    aria-multiline aria-multiselectable aria-orientation aria-owns aria-placeholder
    aria-posinset aria-pressed aria-readonly aria-relevant aria-required aria-roledescription
    aria-rowcount aria-rowindex aria-rowindextext aria-rowspan aria-selected aria-setsize
    aria-sort aria-valuemax aria-valuemin aria-valuenow aria-valuetext
    """)
"""The states and properties of WAI-ARIA 1.2 (and 1.3's braille and index-text ones)."""

FOCUSABLE = frozenset({"button", "select", "textarea", "summary", "iframe"})
"""Elements focusable by themselves; ``<a>``/``<area>`` with ``href``, ``<input>`` other than
hidden and anything with a ``tabindex`` other than a negative one are too."""

RTL_LANGUAGES = words("ar arc ckb dv fa ha he iw khw ks ku ps sd ug ur yi")
"""Languages written right to left: a message in one needs ``dir="rtl"``."""
