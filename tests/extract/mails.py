"""Realistic transactional mails for the extraction tests (rendered, as a suite receives them)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path


def build(
    subject: str,
    text: str | None,
    html: str | None,
    *,
    sender: str = "Fernway <no-reply@fernway.example>",
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "ann@customer.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = "<t-1@fernway.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


SIGNUP_HTML = fixture("signup.html")
SIGNUP_TEXT = """Welcome to Fernway, Ann!

Please confirm that ann@customer.example is your email address:
https://fernway.example/account/verify?token=9f8c2b7e4d1a6f3c0b5e8d7a

This link expires in 24 hours.
"""
SIGNUP = build("Confirm your email address", SIGNUP_TEXT, SIGNUP_HTML)

RESET_HTML = fixture("reset.html")
RESET = build("Reset your Fernway password", None, RESET_HTML)

MAGIC_HTML = fixture("magic.html")
MAGIC = build("Your sign-in link", None, MAGIC_HTML)

TWO_FA = {
    # language: (subject, text, the code)
    "en": (
        "Your verification code",
        "Your verification code is 482913. It expires in 10 minutes.",
        "482913",
    ),
    "de": (
        "Ihr Bestätigungscode",
        "Ihr Bestätigungscode lautet: 731 904\nEr ist 10 Minuten gültig.",
        "731904",
    ),
    "fr": (
        "Votre code de vérification",
        "Votre code de vérification : 550217\nIl expire dans 10 minutes.",
        "550217",
    ),
    "es": (
        "Tu código de verificación",
        "Tu código de verificación es 194 386. Caduca en 10 minutos.",
        "194386",
    ),
    "it": ("Il tuo codice di verifica", "Il tuo codice di verifica è 8820 1143.", "88201143"),
    "nl": ("Je verificatiecode", "Je verificatiecode: 6071\nDeze is 5 minuten geldig.", "6071"),
    "pt": (
        "Seu código de verificação",
        "Seu código de verificação é K7Q9XZ. Não compartilhe.",
        "K7Q9XZ",
    ),
}

TWO_FA_HTML = """<html><body>
<p>Use this code to finish signing in on Chrome (Windows) on 23 Nov 2026, 10:04:</p>
<p style="font-size:32px;letter-spacing:6px;font-weight:bold">390 517</p>
<p>Your one-time passcode expires in 10 minutes. Order 4411 customers: ignore.</p>
</body></html>
"""
TWO_FA_HTML_MAIL = build("Your Fernway sign-in code", None, TWO_FA_HTML)

ORDER_HTML = fixture("order.html")
ORDER_TEXT = """Thanks for your order, Ann!

Order number: 40021187, placed 2026-11-23 at 10:04.
Total: $1,428.00 (incl. 19% VAT). Postcode 10115. Room 2231.
Track it: https://fernway.example/orders/40021187/track
Unsubscribe: https://fernway.example/email/unsubscribe?u=ann%40customer.example
"""
ORDER = build(
    "Your Fernway order 40021187 is confirmed",
    ORDER_TEXT,
    ORDER_HTML,
    List_Unsubscribe="<https://fernway.example/email/unsubscribe/one-click/Zx81kQ>, "
    "<mailto:unsub@fernway.example>",
)
