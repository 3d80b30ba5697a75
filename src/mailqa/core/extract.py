"""What a test suite wants out of a transactional mail: its one-time code and its links.

``extract(msg)`` reads a ``ParsedMessage`` (the subject, the text part and the shared HTML
scan: never re-parsed) and answers an ``Extraction``:

* **codes**: 4-8 digit codes (``482913``, ``482 913``, ``482-913``) and mixed tokens
  (``K7Q9XZ``, ``AB12-CD34``) that stand next to a word such as code, verification, OTP, PIN
  or passcode, in English, German, French, Spanish, Italian, Dutch and Portuguese. A number
  far from such a word, or one that reads as something else (a price, a date, a time, a
  phone number, an order or invoice number, a postcode, a year), is not a code.
* **links**: every http(s) link of the HTML and the text part, each classified as
  ``verify`` (confirm an address or an account), ``password_reset``, ``magic_link`` (sign in
  without a password), ``unsubscribe`` or ``other``, from its anchor text, its URL and the
  text just before it. The ``List-Unsubscribe`` header's https URL is an unsubscribe link.

Each item says where it was found: ``part`` (``subject``, ``text``, ``html``, ``headers``),
``line`` and ``column`` counted from 1. Hostile input is bounded: at most ``MAX_CODES`` codes
and ``MAX_LINKS`` links are read, and every pattern is linear.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field

from mailqa.core.budget import checkpoint
from mailqa.core.html import HtmlDocument
from mailqa.core.message import ParsedMessage, header_block, header_line

MAX_CODES = 20
MAX_LINKS = 500
CODE_WINDOW = 80
"""Characters between a code and the word that names it (either side)."""
CONTEXT_CHARS = 120
"""Text before a link read as its context."""
MAX_TEXT = 2_000_000
"""Characters of a part that are read (a larger part is read up to here)."""

LinkKind = Literal["verify", "password_reset", "magic_link", "unsubscribe", "other"]
Part = Literal["subject", "text", "html", "headers"]


class ExtractedCode(BaseModel):
    """A one-time code and where it was found."""

    value: str = Field(description="The code as a test types it: separators removed.")
    raw: str = Field(description="The code as written (``482 913``).")
    kind: Literal["numeric", "mixed"]
    keyword: str = Field(description="The word next to it that says it is a code.")
    part: Part
    line: int | None = None
    column: int | None = None
    snippet: str = ""
    distance: int = Field(
        0, description="Characters between the code and its word (after it: doubled)."
    )


class ExtractedLink(BaseModel):
    """A link, what it is for, and where it was found."""

    url: str
    kind: LinkKind
    text: str = Field("", description="Anchor text (or the image's alt text).")
    reasons: list[str] = Field(
        default_factory=list, description="What classified it: text:, url:, context: words."
    )
    part: Part
    line: int | None = None
    column: int | None = None


class Extraction(BaseModel):
    """Codes and links of one message; ``code`` and ``first`` are the likeliest ones."""

    code: str | None = Field(None, description="The likeliest one-time code, or null.")
    codes: list[ExtractedCode] = Field(default_factory=list)
    first: dict[str, str] = Field(
        default_factory=dict,
        description="The first link of each kind found (verify, password_reset, magic_link, "
        "unsubscribe); other links are not listed here.",
    )
    links: list[ExtractedLink] = Field(default_factory=list)


# -- codes --------------------------------------------------------------------------------

_CODE_WORDS = (
    r"(?:verification|confirmation|security|login|log-in|sign-in|signin|access|activation|"
    r"authentication|one-time|one time|2fa|mfa)?[ -]?(?:code|pin)s?|otp|passcode|"
    r"one-time password|one time password|verification|verify|"
    r"\w{0,20}codes?|einmal(?:passwort|kennwort|code)|tan|pin|kennwort|"  # de (…code, TAN)
    r"mot de passe (?:à usage unique|temporaire)|"  # fr (code: above)
    r"c[oó]digos?|contraseña (?:temporal|de un solo uso)|clave|"  # es, pt
    r"codice|codici|password temporanea|"  # it
    r"toegangscode|verificatiecode|eenmalig wachtwoord|"  # nl
    r"senha (?:temporária|de uso único)"  # pt
)
_CODE_WORD = re.compile(rf"(?<!\w)(?:{_CODE_WORDS})(?!\w)", re.I)
# Codes that are something else: promotions, postcodes, phone area codes, bank sort codes.
_NOT_OTP_WORDS = re.compile(
    r"(?:promo|discount|coupon|voucher|gift|referral|invite|invitation|rabatt|gutschein|"
    r"promotionnel|réduction|descuento|promocional|sconto|kortings|"
    r"post|postal|zip|area|country|sort|tracking|bar|qr|colour|color|source|dress|"
    r"postleit|landes|vorwahl|bank|swift|iban|bic|product|produkt|article|artikel|"
    r"order|bestell|commande|pedido|ordine|bestel|encomenda)[ -]?(?:codes?|c[oó]digos?|codice|"
    r"nummer|number|numéro|número|numero)?$",
    re.I,
)
# Words that end in "code" and are no code: decode, encode, unicode, geocode, source code.
_CODE_LOOKALIKE = re.compile(r"(?:de|en|uni|geo|source|bar|qr|zip|post|area)codes?", re.I)
_CANDIDATE = re.compile(
    r"(?<![\w.,:/#+€$£¥-])(?<!\d )(?<!\d-)"
    r"(?:(?P<spaced>\d{3}[ -]\d{3}|\d{4}[ -]\d{4}|\d{2}[ -]\d{2}[ -]\d{2})(?![ -]?\d)"
    r"|(?P<digits>\d{4,8})(?![ -]\d)"
    r"|(?P<mixed>(?=[A-Z0-9-]{4,12}(?![\w-]))(?=[A-Z-]*\d)(?=[0-9-]*[A-Z])"
    r"[A-Z0-9]{2,6}(?:-[A-Z0-9]{2,6})?))"
    r"(?![\w@/]|[.,:]\d|\s?(?:%|€|\$|£|kr\b|eur\b|usd\b|gbp\b|chf\b|am\b|pm\b|h\b|uhr\b))",
    re.I,
)
# What the text right before a number says it is: money, a number sign, a phone.
_BEFORE_NOT_CODE = re.compile(
    r"(?:[€$£¥#№]|\b(?:no|nr|n°|nº|number|nummer|numéro|número|numero|ref|order|invoice|"
    r"tel|phone|fax|call|ruf|tél|teléfono|telefono|telefoon|telefone|bestellung|bestellnummer|rechnung|commande|facture|"
    r"pedido|factura|ordine|fattura|bestelling|factuur|encomenda|fatura|usd|eur|gbp|chf|"
    r"total|summe|montant|importe|totale|totaal|price|preis|prix|precio|prezzo|prijs|preço|"
    r"plz|zip|postcode|cp|cap|km|kg|room|zimmer|suite|flight|flug|vol|vuelo|volo|vlucht|voo|"
    r"id|seat|gate|box|apt)\.?:?|\+\d{0,3})\s*$",
    re.I,
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_MONTH_AFTER = re.compile(r"\s?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")
_MONTHS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|januar|februar|märz|mai|juni|juli|"
    r"okt|dez|janv|févr|mars|avr|juin|juil|août|sept|déc|ene|abr|ago|dic|gen|mag|giu|lug|"
    r"set|ott|mei|okt|fev|out|dez)[a-zäéû]*\.?\s*$",
    re.I,
)


@dataclass(frozen=True)
class _Text:
    """A stretch of readable text and where its characters are in the part's source."""

    text: str
    part: Part
    starts: tuple[tuple[int, int], ...]
    """(offset in ``text``, offset in the source) of each run the text is made of."""
    line: int | None = None
    """The header line of a subject."""

    def source_offset(self, offset: int) -> int:
        index = bisect.bisect_right(self.starts, (offset, len(self.text) + 1)) - 1
        text_start, source_start = self.starts[max(0, index)]
        return source_start + (offset - text_start)


def _html_text(doc: HtmlDocument) -> _Text:
    """The visible text of the HTML (hidden preheaders too), runs joined by spaces."""
    pieces: list[str] = []
    starts: list[tuple[int, int]] = []
    length = 0
    for index, run in enumerate(doc.scan.texts):
        if not index & 1023:
            checkpoint()
        if length > MAX_TEXT:
            break
        starts.append((length, run.offset))
        pieces.append(run.text)
        length += len(run.text) + 1
    return _Text(" ".join(pieces), "html", tuple(starts) or ((0, 0),))


def _codes_in(text: _Text, doc: HtmlDocument | None, out: list[ExtractedCode]) -> None:
    source = text.text
    keywords = [
        (m.start(), m.end(), m.group())
        for m in _take(_CODE_WORD.finditer(source), 10_000)
        if not _NOT_OTP_WORDS.search(source[max(0, m.start() - 12) : m.end()])
        and not _CODE_LOOKALIKE.fullmatch(m.group().strip())
    ]
    if not keywords:
        return
    starts = [k[0] for k in keywords]
    seen = {c.value for c in out}
    for match in _take(_CANDIDATE.finditer(source), 50_000):
        if len(out) >= MAX_CODES:
            return
        raw = match.group()
        start, end = match.start(), match.end()
        near = _nearest_keyword(keywords, starts, start, end)
        if near is None or not _reads_as_code(source, match):
            continue
        distance, keyword = near
        value = re.sub(r"[ -]", "", raw)
        if value in seen:
            continue
        seen.add(value)
        kind: Literal["numeric", "mixed"] = "numeric" if value.isdigit() else "mixed"
        line, column, snippet = _where(text, doc, start, raw)
        out.append(
            ExtractedCode(
                value=value,
                raw=raw,
                kind=kind,
                keyword=keyword.strip(),
                distance=distance,
                part=text.part,
                line=line,
                column=column,
                snippet=snippet,
            )
        )


def _take(items: Iterator[re.Match[str]], limit: int) -> Iterator[re.Match[str]]:
    for index, item in enumerate(items):
        if index >= limit:
            return
        if not index & 1023:
            checkpoint()
        yield item


def _nearest_keyword(
    keywords: list[tuple[int, int, str]], starts: list[int], start: int, end: int
) -> tuple[int, str] | None:
    """The code word within ``CODE_WINDOW`` of the candidate (before it preferred): the
    words either side of it, found by bisection (``starts``: the words' offsets)."""
    index = bisect.bisect_left(starts, start)
    best: tuple[int, str] | None = None
    for k_start, k_end, word in keywords[max(0, index - 2) : index + 2]:
        if k_end <= start:
            distance = start - k_end
        elif k_start >= end:
            distance = (k_start - end) * 2  # "482913 is your code": after counts double
        else:
            continue  # the candidate is inside the word ("code4711")
        if distance <= CODE_WINDOW and (best is None or distance < best[0]):
            best = (distance, word)
    return best


def _reads_as_code(source: str, match: re.Match[str]) -> bool:
    raw = match.group()
    before = source[max(0, match.start() - 24) : match.start()]
    if _BEFORE_NOT_CODE.search(before) or _MONTHS.search(before):
        return False
    after = source[match.end() : match.end() + 12].lower()
    if match.group("digits") and len(raw) == 4 and _YEAR.fullmatch(raw):
        return False  # 2026: a year
    if match.group("digits") and _MONTH_AFTER.match(after):
        return False  # 1234 Mar: a date
    if match.group("mixed"):
        if raw.upper() != raw:
            return False  # codes are written in capitals: "mp3player" is a word
        letters = sum(c.isalpha() for c in raw)
        digits = sum(c.isdigit() for c in raw)
        if letters < 1 or digits < 1 or len(raw.replace("-", "")) < 5:
            return False
        if re.fullmatch(r"[A-Z]{1,3}-?\d+|\d+-?[A-Z]{1,3}", raw, re.I):
            return False  # FW-20931, 10115AB, 2FA, 4K: references, sizes, postcodes
    return True


def _where(
    text: _Text, doc: HtmlDocument | None, start: int, raw: str
) -> tuple[int | None, int | None, str]:
    if text.part == "html" and doc is not None:
        offset = text.source_offset(start)
        # The run's text is folded and unescaped: find the token in the source from there.
        found = doc.source.find(raw, offset, offset + len(raw) + 400)
        line, column = doc.position(found if found >= 0 else offset)
        return line, column, doc.snippet(line, column)
    if text.part == "text":
        line = text.text.count("\n", 0, start) + 1
        line_start = text.text.rfind("\n", 0, start) + 1
        line_end = text.text.find("\n", start)
        snippet = text.text[line_start : line_end if line_end >= 0 else None].strip()[:120]
        return line, start - line_start + 1, snippet
    # The subject: on its header line, after "Subject: ".
    return text.line, len("Subject: ") + start + 1, f"Subject: {text.text[:120]}"


# -- links --------------------------------------------------------------------------------

_VOCABULARY: dict[LinkKind, tuple[str, str]] = {
    # kind: (words of anchor text and context, words of the URL)
    "unsubscribe": (
        r"unsubscribe|opt[ -]?out|manage (?:your )?(?:preferences|subscription)|"
        r"abmelden|abbestellen|austragen|désabonner|désinscri|se désinscrire|"
        r"darse de baja|dar(?:te|se)? de baja|cancelar (?:la )?suscripci[oó]n|"
        r"disiscriv|annulla (?:l')?iscrizione|cancella(?:re)? (?:l')?iscrizione|"
        r"afmelden|uitschrijven|descadastr|cancelar (?:a )?(?:inscrição|assinatura)",
        r"unsubscribe|unsub\b|opt-?out|abmelden|desinscri|desabonn|baja|disiscri|afmeld|"
        r"uitschrij|descadastr|list-unsubscribe",
    ),
    "password_reset": (
        r"reset (?:your |my )?password|password reset|forgot (?:your )?password|"
        r"(?:choose|set|create) a new password|new password|change (?:your )?password|"
        r"passwort (?:zurücksetzen|ändern|vergessen)|neues passwort|"
        r"réinitialiser (?:votre |le )?mot de passe|nouveau mot de passe|mot de passe oublié|"
        r"restablecer (?:tu |su |la )?contraseña|nueva contraseña|cambiar (?:tu |su )?contraseña|"
        r"reimposta(?:re)? (?:la )?password|nuova password|"
        r"wachtwoord (?:opnieuw instellen|herstellen|wijzigen|resetten|vergeten)|nieuw wachtwoord|"
        r"redefinir (?:a |sua )?senha|nova senha|recuperar (?:a )?senha",
        r"reset[-_/]?password|password[-_/]?reset|forgot|recover|reset|passwor[dt]|"
        r"wachtwoord|senha|contrasena|mot-de-passe",
    ),
    "verify": (
        r"verify|confirm|activate|validate|verification|"
        r"bestätig|verifizier|aktivier|"
        r"confirmer|vérifier|activer|valider|"
        r"confirmar|verificar|activar|validar|ativar|"
        r"conferma|verifica|attiva|convalida|"
        r"bevestig|verifi[eë]r|activeer|activeren",
        r"verif|confirm|activat|validat|bestaetig|bestatig|bevestig|ativar|attiva|activar",
    ),
    "magic_link": (
        r"sign[ -]?in|log[ -]?in|magic link|log me in|"
        r"anmelden|einloggen|jetzt anmelden|"
        r"se connecter|connexion|me connecter|"
        r"iniciar sesi[oó]n|inicia sesi[oó]n|acceder|entrar|"
        r"accedi|effettua l'accesso|"
        r"inloggen|log in|aanmelden|"
        r"fazer login|acessar|iniciar sessão",
        r"magic|sign[-_]?in|log[-_]?in|auth|session|sso|passwordless|otp",
    ),
}
_PRECEDENCE: tuple[LinkKind, ...] = ("unsubscribe", "password_reset", "verify", "magic_link")
# "Order confirmation", "Buchungsbestätigung": a receipt's words, not an address to confirm.
_RECEIPT = re.compile(
    r"order|booking|purchase|reservation|receipt|shipment|delivery|payment|appointment|"
    r"bestell|buchung|zahlung|lieferung|commande|réservation|paiement|livraison|"
    r"pedido|reserva|compra|pago|entrega|ordine|prenotazione|acquisto|pagamento|"
    r"bestelling|boeking|betaling|levering|encomenda|agendamento",
    re.I,
)
_TEXT_WORDS = {
    kind: re.compile(rf"(?<!\w)(?:{words})", re.I) for kind, (words, _) in _VOCABULARY.items()
}
_URL_WORDS = {kind: re.compile(url, re.I) for kind, (_, url) in _VOCABULARY.items()}
_GENERIC_TEXT = re.compile(
    r"^(?:click here|here|this link|click|tap here|button|link|continue|go|open|"
    r"hier|hier klicken|klicken sie hier|ici|cliquez ici|aquí|haz clic aquí|haga clic aquí|"
    r"qui|clicca qui|klik hier|aqui|clique aqui|\[image.*\]|https?://\S*|www\.\S*)?[.!:]?$",
    re.I,
)
_TEXT_URL = re.compile(r"(?i)\bhttps?://[^\s<>\"'()\[\]]++")
_TRAILING = ".,;:!?'\")]}>*"


def _has_token(url: str) -> bool:
    """A long random-looking piece in the path or query: what a one-time link carries."""
    for piece in re.split(r"[/?&=#;]", url[:4000]):
        random_looking = piece.count("-") <= 4 or len(piece) >= 32
        has_digit = any(c.isdigit() for c in piece)
        if len(piece) >= 16 and random_looking and has_digit and any(c.isalpha() for c in piece):
            return True
    return False


def _classify(url: str, text: str, context: str) -> tuple[LinkKind, list[str]]:
    """The kind whose words the anchor text (3 points), the URL (2) and, for a generic anchor
    text ("click here", an image, the URL itself), the text before the link (2) hold; ties
    go to the first of ``_PRECEDENCE``. A magic link needs a token in its URL, and so do the
    others when only their URL speaks for them ("/orders/confirmation/123" is a receipt)."""
    try:
        parts = urlsplit(url)
        where = unquote(f"{parts.path}?{parts.query}")
    except ValueError:
        where = url
    generic = bool(_GENERIC_TEXT.match(text.strip()))
    token = _has_token(url)
    best: tuple[int, LinkKind, list[str]] | None = None
    for kind in _PRECEDENCE:
        score = 0
        reasons: list[str] = []
        receipt = kind == "verify" and _RECEIPT.search(f"{text} {where}")
        if text and not receipt and (m := _TEXT_WORDS[kind].search(text)):
            score += 3
            reasons.append(f"text: {m.group().lower()}")
        if m := _URL_WORDS[kind].search(where):
            score += 2
            reasons.append(f"url: {m.group().lower()}")
        if generic and context and not receipt and (m := _TEXT_WORDS[kind].search(context)):
            score += 2
            reasons.append(f"context: {m.group().lower()}")
        if not score:
            continue
        url_only = all(r.startswith("url") for r in reasons)
        if kind != "unsubscribe" and (kind == "magic_link" or url_only):
            if not token:
                continue
            reasons.append("url: token")
        if best is None or score > best[0]:
            best = (score, kind, reasons)
    return (best[1], best[2]) if best is not None else ("other", [])


def _html_links(doc: HtmlDocument, out: list[ExtractedLink]) -> None:
    scan = doc.scan
    runs = scan.texts
    run_index = 0
    recent: list[str] = []
    for index, tag in enumerate(scan.elements):
        if not index & 255:
            checkpoint()
        if len(out) >= MAX_LINKS:
            return
        if tag.name not in ("a", "area"):
            continue
        href = (tag.get("href") or "").strip()
        if not href.lower().startswith(("http://", "https://")):
            continue
        # The text just before the link: the runs that end before the tag.
        while run_index < len(runs) and runs[run_index].offset < tag.offset:
            recent.append(runs[run_index].text)
            if len(recent) > 6:
                recent.pop(0)
            run_index += 1
        context = " ".join(recent)[-CONTEXT_CHARS:]
        text = scan.link_texts.get(tag.offset, "") if tag.name == "a" else (tag.get("alt") or "")
        if not text and tag.name == "a":
            alt = scan.link_images.get(tag.offset)
            text = f"[image: {alt}]" if alt else ""
        kind, reasons = _classify(href, text, context)
        line, column = doc.position(tag.offset)
        out.append(
            ExtractedLink(
                url=href[:4000],
                kind=kind,
                text=text,
                reasons=reasons,
                part="html",
                line=line,
                column=column,
            )
        )


def _text_links(text: str, out: list[ExtractedLink]) -> None:
    previous = ""
    for number, line in enumerate(text.split("\n"), 1):
        if not number & 255:
            checkpoint()
        for match in _TEXT_URL.finditer(line):
            if len(out) >= MAX_LINKS:
                return
            url = match.group().rstrip(_TRAILING)
            before = (previous + " " + line[: match.start()]).strip()
            label = line[: match.start()].strip().rstrip(":").strip()
            kind, reasons = _classify(url, label, before[-CONTEXT_CHARS:])
            out.append(
                ExtractedLink(
                    url=url[:4000],
                    kind=kind,
                    text=label[-100:],
                    reasons=reasons,
                    part="text",
                    line=number,
                    column=match.start() + 1,
                )
            )
        if line.strip():
            previous = line.strip()


def _header_links(msg: ParsedMessage, out: list[ExtractedLink]) -> None:
    value = msg.header("List-Unsubscribe") or ""
    if not value:
        return
    head = header_block(msg.raw).decode("utf-8", "replace")
    line = header_line(msg.raw, "List-Unsubscribe") or 1
    field_start = sum(len(row) + 1 for row in head.split("\n")[: line - 1])
    for match in list(re.finditer(r"<(https?://[^>\s]{1,4000})>", value))[:5]:
        url = match.group(1)
        # Where the URL is in the (maybe folded) field as received.
        at = head.find(url, field_start)
        where_line = where_column = None
        if at >= 0:
            where_line = head.count("\n", 0, at) + 1
            where_column = at - (head.rfind("\n", 0, at) + 1) + 1
        out.append(
            ExtractedLink(
                url=url,
                kind="unsubscribe",
                text="List-Unsubscribe",
                reasons=["header: List-Unsubscribe"],
                part="headers",
                line=where_line,
                column=where_column,
            )
        )


# -- the whole message --------------------------------------------------------------------


def extract(msg: ParsedMessage) -> Extraction:
    """Codes and classified links of ``msg``: text part, HTML, subject and headers."""
    codes: list[ExtractedCode] = []
    doc = msg.html_document if msg.html else None
    if doc is not None:
        _codes_in(_html_text(doc), doc, codes)
    if msg.text:
        _codes_in(_Text(msg.text[:MAX_TEXT], "text", ((0, 0),)), None, codes)
    if msg.subject:
        subject = _Text(msg.subject[:2000], "subject", ((0, 0),), header_line(msg.raw, "Subject"))
        _codes_in(subject, None, codes)
    links: list[ExtractedLink] = []
    if doc is not None:
        _html_links(doc, links)
    if msg.text:
        _text_links(msg.text[:MAX_TEXT], links)
    _header_links(msg, links)
    first: dict[str, str] = {}
    for link in links:
        if link.kind != "other":
            first.setdefault(link.kind, link.url)
    return Extraction(code=codes[0].value if codes else None, codes=codes, first=first, links=links)
