"""DKIM, verified by dkimpy against key records fetched beforehand (its DNS hook
is synchronous)."""

from __future__ import annotations

import dkim

from mailqa.checks.auth.details import AuthWord, DkimSignature
from mailqa.net.dns import DnsAnswer, dkim_dnsfunc

MIN_KEY_BITS = 1024


class _CollectingLogger:
    """Stands in for dkimpy's logger to keep the error messages it logs instead of raising."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, msg: object, *args: object) -> None:
        self.errors.append(str(msg) % args if args else str(msg))

    warning = error

    def debug(self, msg: object, *args: object) -> None:
        return None

    info = debug


def key_name(tags: dict[str, str]) -> str | None:
    selector, domain = tags.get("s"), tags.get("d")
    if not selector or not domain:
        return None
    return f"{selector}._domainkey.{domain}".lower()


def verify_dkim(
    raw: bytes, index: int, keys: dict[str, DnsAnswer], tags: dict[str, str]
) -> DkimSignature:
    sig = DkimSignature(
        index=index,
        domain=(tags.get("d") or "").lower() or None,
        selector=tags.get("s"),
        algorithm=tags.get("a"),
        identity=tags.get("i"),
        body_length=int(tags["l"]) if tags.get("l", "").isdigit() else None,
        signed_headers=[h.strip().lower() for h in tags.get("h", "").split(":") if h.strip()],
        result="permerror",
    )
    name = key_name(tags)
    answer = keys.get(name) if name else None
    if answer is not None and answer.failed:
        sig.result, sig.reason = "temperror", f"key lookup {name} failed: {answer.error}"
        return sig
    if answer is not None and not answer.ok:
        sig.result, sig.reason = "permerror", f"key not found: no TXT record at {name}"
        return sig
    log = _CollectingLogger()
    verifier = dkim.DKIM(raw, logger=log, minkey=MIN_KEY_BITS)
    try:
        valid = verifier.verify(idx=index, dnsfunc=dkim_dnsfunc(keys))
    except dkim.ValidationError as exc:
        text = str(exc)
        sig.result = "fail" if "body hash mismatch" in text else "permerror"
        sig.reason = (
            "body hash mismatch: the body was changed after signing"
            if sig.result == "fail"
            else text
        )
        return sig
    except dkim.KeyFormatError as exc:
        sig.key_bits = verifier.keysize or None
        sig.result, sig.reason = "fail", str(exc)
        return sig
    except dkim.DKIMException as exc:
        sig.result, sig.reason = "permerror", str(exc)
        return sig
    sig.key_bits = getattr(verifier, "keysize", None) or None
    if valid:
        sig.result, sig.reason = "pass", "signature verified"
    elif log.errors:
        sig.result, sig.reason = "permerror", "; ".join(log.errors)
    else:
        sig.result, sig.reason = "fail", "signature did not verify (signed headers changed?)"
    return sig


def combined_dkim_result(sigs: list[DkimSignature]) -> AuthWord:
    if not sigs:
        return "none"
    order: tuple[AuthWord, ...] = ("pass", "temperror", "fail", "permerror")
    for word in order:
        if any(s.result == word for s in sigs):
            return word
    return sigs[0].result
