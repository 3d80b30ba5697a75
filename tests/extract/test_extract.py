"""Codes and links out of realistic transactional mail: sign-up confirmation, password reset,
magic link, 2FA codes in seven languages, and an order confirmation whose numbers (order ids,
prices, dates, phone numbers, a postcode) are not codes."""

from __future__ import annotations

import time

import pytest
from tests.extract import mails

from mailqa.core.extract import MAX_CODES, MAX_LINKS, Extraction, extract
from mailqa.core.message import ParsedMessage


def extracted(raw: bytes) -> Extraction:
    return extract(ParsedMessage(raw))


def line_of(source: str, needle: str) -> int:
    return source.count("\n", 0, source.index(needle)) + 1


def test_sign_up_confirmation_gives_the_verify_link_in_both_parts() -> None:
    found = extracted(mails.SIGNUP)
    url = "https://fernway.example/account/verify?token=9f8c2b7e4d1a6f3c0b5e8d7a"
    assert found.first == {"verify": url}
    assert found.code is None and found.codes == []
    verify = [link for link in found.links if link.kind == "verify"]
    assert [(link.part, link.line) for link in verify] == [
        ("html", line_of(mails.SIGNUP_HTML, 'class="btn"')),
        ("html", line_of(mails.SIGNUP_HTML, "Or paste") + 1),
        ("text", 4),
    ]
    button = verify[0]
    assert button.text == "Confirm my email" and "text: confirm" in button.reasons
    assert button.column == mails.SIGNUP_HTML.split("\n")[button.line - 1].index("<a") + 1  # type: ignore[operator]
    others = {link.url for link in found.links if link.kind == "other"}
    assert others == {"https://fernway.example/help", "https://fernway.example/privacy"}


def test_password_reset_link_and_the_security_page_that_is_not_one() -> None:
    found = extracted(mails.RESET)
    reset = "https://id.fernway.example/password/reset/u7Hq2LmX9vRt4KpW8zYb3NcD"
    assert found.first == {"password_reset": reset}
    kinds = {link.url: link.kind for link in found.links}
    assert kinds["https://fernway.example/account/security"] == "other"
    link = next(link for link in found.links if link.url == reset)
    assert (link.part, link.line, link.column) == ("html", 5, 1)
    assert found.code is None  # 23/11/2026 and 10:04 are a date and a time


def test_magic_link_needs_its_token_a_login_page_is_other() -> None:
    found = extracted(mails.MAGIC)
    assert found.first == {
        "magic_link": "https://app.fernway.example/auth/magic?t=eyJhbGciOiJIUzI1NiJ9x7Q2mK8pZ4vL"
    }
    kinds = {link.url: link.kind for link in found.links}
    assert kinds["https://app.fernway.example/login"] == "other"


@pytest.mark.parametrize("language", sorted(mails.TWO_FA))
def test_two_factor_codes_in_the_text_part(language: str) -> None:
    subject, text, code = mails.TWO_FA[language]
    found = extracted(mails.build(subject, text, None))
    assert found.code == code
    first = next(c for c in found.codes if c.part == "text")
    assert first.value == code and first.line == 1
    assert text.split("\n")[0][first.column - 1 :].startswith(first.raw)  # type: ignore[operator]
    assert first.kind == ("mixed" if code.isalnum() and not code.isdigit() else "numeric")


@pytest.mark.parametrize("language", sorted(mails.TWO_FA))
def test_two_factor_codes_in_html(language: str) -> None:
    _, text, code = mails.TWO_FA[language]
    lines = text.split("\n")
    html = (
        "<html><body>\n<table><tr><td style='font-family:Arial'>\n"
        + "".join(f"<p>{line}</p>\n" for line in lines)
        + "</td></tr></table>\n</body></html>\n"
    )
    found = extracted(mails.build("Security", None, html))
    assert found.code == code
    located = found.codes[0]
    assert located.part == "html" and located.line == 3
    assert html.split("\n")[2][located.column - 1 :].startswith(located.raw)  # type: ignore[operator]


def test_a_code_on_its_own_line_in_html_is_read_with_its_words_around_it() -> None:
    found = extracted(mails.TWO_FA_HTML_MAIL)
    assert found.code == "390517"
    assert [c.value for c in found.codes] == ["390517"]  # not 2026, 10:04 nor order 4411
    code = found.codes[0]
    assert (code.part, code.line, code.raw) == ("html", 3, "390 517")
    assert "390 517" in code.snippet


def test_order_confirmation_numbers_are_not_codes() -> None:
    found = extracted(mails.ORDER)
    assert found.code is None and found.codes == [], [(c.raw, c.keyword) for c in found.codes]
    assert found.first == {
        "unsubscribe": "https://fernway.example/email/unsubscribe?u=ann%40customer.example"
    }
    kinds = {(link.part, link.url): link.kind for link in found.links}
    assert kinds[("html", "https://fernway.example/orders/confirmation/40021187")] == "other"
    assert kinds[("text", "https://fernway.example/orders/40021187/track")] == "other"
    header = [link for link in found.links if link.part == "headers"]
    assert [(link.kind, link.url) for link in header] == [
        ("unsubscribe", "https://fernway.example/email/unsubscribe/one-click/Zx81kQ")
    ]
    raw_lines = mails.ORDER.decode().split("\n")
    at = header[0]
    assert at.line is not None and at.column is not None  # the field is folded: its next line
    assert raw_lines[at.line - 1][at.column - 1 :].startswith(header[0].url)


def test_a_code_in_the_subject_is_placed_on_its_header_line() -> None:
    raw = mails.build("482913 is your Fernway login code", "Welcome back.", None)
    found = extracted(raw)
    code = found.codes[0]
    assert (found.code, code.part, code.column) == ("482913", "subject", len("Subject: ") + 1)
    assert code.line is not None
    assert raw.decode().split("\n")[code.line - 1].startswith("Subject: 482913")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your Amazon OTP is 5512. Do not share it.", "5512"),
        ("Use PIN 7031 to unlock the locker.", "7031"),
        ("Passcode: 44-19-02", "441902"),
        ("Enter AB12-CD34 on the activation page to verify your device.", "AB12CD34"),
        ("G-482913 is your Google verification code.", None),
        ("481516 is your login code", "481516"),
        ("Votre code : 2391. Merci.", "2391"),
        ("Codice OTP: 778812", "778812"),
    ],
)
def test_code_shapes(text: str, expected: str | None) -> None:
    assert extracted(mails.build("Hello", text, None)).code == expected


@pytest.mark.parametrize(
    "text",
    [
        "Call us on 0800 123 4567 if your code did not arrive.",
        "Your promo code SPRING20 saves 20% on 1299 items.",
        "Zip code 94107, postcode 10115: your parcel is on its way.",
        "The verification of order 40021187 of 2026 is complete.",
        "Code of conduct, section 2024, paragraph 12.",
        "Unicode 1500 characters; we decode 4096 bytes and encode 2048 more.",
        "Your code expires at 10:45 on 23.11.2026; it costs €1299 otherwise.",
    ],
)
def test_numbers_that_are_not_codes(text: str) -> None:
    found = extracted(mails.build("Hello", text, None))
    assert found.code is None, [(c.raw, c.keyword) for c in found.codes]


@pytest.mark.parametrize(
    ("text", "href", "kind"),
    [
        ("Abmelden", "https://x.example/nl?id=1", "unsubscribe"),
        ("Se désinscrire", "https://x.example/p", "unsubscribe"),
        ("Darse de baja", "https://x.example/p", "unsubscribe"),
        ("Passwort zurücksetzen", "https://x.example/r/aB3dE5gH7jK9mN1pQ", "password_reset"),
        ("Réinitialiser le mot de passe", "https://x.example/r/aB3dE5gH7jK9mN1p", "password_reset"),
        ("Restablecer contraseña", "https://x.example/r", "password_reset"),
        ("E-Mail-Adresse bestätigen", "https://x.example/c/aB3dE5gH7jK9mN1pQ", "verify"),
        ("Conferma il tuo indirizzo", "https://x.example/c", "verify"),
        ("Bevestig je e-mailadres", "https://x.example/c", "verify"),
        ("Confirmar e-mail", "https://x.example/c", "verify"),
        ("Inloggen", "https://x.example/l?token=aB3dE5gH7jK9mN1pQ", "magic_link"),
        ("Iniciar sesión", "https://x.example/login", "other"),
        ("Click here", "https://x.example/account/verify/aB3dE5gH7jK9mN1pQ", "verify"),
        ("Shop the sale", "https://x.example/sale", "other"),
    ],
)
def test_link_kinds_in_several_languages(text: str, href: str, kind: str) -> None:
    html = f'<p>Hello,</p>\n<p><a href="{href}">{text}</a></p>\n'
    found = extracted(mails.build("Hello", None, html))
    assert [(link.kind, link.line, link.column) for link in found.links] == [(kind, 2, 4)]


def test_a_generic_link_is_classified_by_the_text_before_it() -> None:
    href = "https://x.example/r/aB3dE5gH7jK9mN1pQ"
    html = f'<p>To reset your password, <a href="{href}">click here</a>.</p>'
    found = extracted(mails.build("Hello", None, html))
    assert found.links[0].kind == "password_reset"
    assert "context: reset your password" in found.links[0].reasons


def test_hostile_input_is_bounded() -> None:
    body = ("Your code is 1234 5678 9012 " * 20_000) + ("code " * 50_000) + ("A1B2C " * 50_000)
    links = "".join(f'<a href="https://x.example/v/{i:020d}a">Verify</a>' for i in range(2_000))
    raw = mails.build("code 1234", body, f"<p>{body[:200_000]}</p>{links}")
    started = time.process_time()
    found = extracted(raw)
    spent = time.process_time() - started
    assert len(found.codes) <= MAX_CODES and len(found.links) <= MAX_LINKS
    assert spent < 30, spent  # linear: a quadratic pass takes minutes here
