"""The RFC 8601 ``Authentication-Results`` header the report carries."""

from __future__ import annotations

from mailqa.checks.auth.details import (
    ArcDetails,
    DkimSignature,
    DmarcDetails,
    PostureDetails,
    SpfDetails,
)


def authentication_results(
    serv_id: str,
    spf: SpfDetails,
    sigs: list[DkimSignature],
    dmarc: DmarcDetails,
    arc: ArcDetails,
    posture: PostureDetails,
) -> str:
    """An RFC 8601 ``Authentication-Results`` header (name included) for this evaluation."""
    parts = [serv_id]
    if spf.identity == "helo":
        parts.append(f"spf={spf.result} smtp.helo={spf.domain or 'unknown'}")
    else:
        parts.append(f"spf={spf.result} smtp.mailfrom={spf.domain or 'unknown'}")
    if sigs:
        for sig in sigs:
            reason = f' reason="{sig.reason[:80]}"' if sig.result != "pass" and sig.reason else ""
            parts.append(
                f"dkim={sig.result}{reason} header.d={sig.domain or 'unknown'} "
                f"header.s={sig.selector or 'unknown'}"
            )
    else:
        parts.append("dkim=none")
    policy = (
        f" (p={dmarc.policy} dis={(dmarc.applied_policy or 'none').upper()})"
        if dmarc.policy and dmarc.result in ("pass", "fail")
        else ""
    )
    parts.append(f"dmarc={dmarc.result}{policy} header.from={dmarc.from_domain or 'unknown'}")
    parts.append(_arc_result(arc))
    if spf.ip:
        parts.append(f"iprev={posture.iprev} policy.iprev={spf.ip}")
    return "Authentication-Results: " + ";\n\t".join(parts)


def _arc_result(arc: ArcDetails) -> str:
    """``arc=`` with RFC 8617's header.oldest-pass on a pass, the reason on a fail."""
    if arc.result == "pass" and arc.oldest_pass is not None:
        return f"arc=pass header.oldest-pass={arc.oldest_pass}"
    if arc.result == "fail" and arc.reason:
        return f'arc=fail reason="{arc.reason[:80].replace(chr(34), chr(39))}"'
    return f"arc={arc.result}"
