"""The auth check: SPF, DKIM, DMARC and ARC, plus the sending domain's DNS posture, looked
up concurrently through the shared ``DnsResolver``."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from mailqa.checks.auth.arc import read_arc_chain, verify_arc
from mailqa.checks.auth.config import AuthConfig
from mailqa.checks.auth.details import AuthDetails, DmarcDetails, SpfTreeDetails
from mailqa.checks.auth.dkim import combined_dkim_result, key_name, verify_dkim
from mailqa.checks.auth.dmarc import evaluate_dmarc, evaluate_tree_walk, find_dmarc_record
from mailqa.checks.auth.findings import auth_findings
from mailqa.checks.auth.posture import read_posture
from mailqa.checks.auth.results_header import authentication_results
from mailqa.checks.auth.rules import RULES
from mailqa.checks.auth.spf import evaluate_spf, walk_spf_tree
from mailqa.checks.auth.tags import parse_tags
from mailqa.core.address import domain_of, is_public_ip, sending_ip
from mailqa.core.budget import in_thread
from mailqa.core.check import CheckContext
from mailqa.core.message import ParsedMessage
from mailqa.core.report import CheckResult, Status
from mailqa.core.rules import CheckRules


class AuthCheck:
    name: ClassVar[str] = "auth"
    rules: ClassVar[CheckRules] = RULES
    needs_network: ClassVar[bool] = True
    default_enabled: ClassVar[bool] = True

    async def run(self, msg: ParsedMessage, ctx: CheckContext) -> CheckResult:
        resolver = ctx.resolver
        if resolver is None:
            return CheckResult.skipped(self.name, ctx.no_resolver_reason)
        ip = sending_ip(msg)
        mail_from = msg.envelope.mail_from
        if mail_from is None:
            return_path = msg.header("Return-Path")
            mail_from = return_path.strip().strip("<>") if return_path else None
        helo = msg.envelope.helo or (msg.received[0].from_name if msg.received else None)
        from_domain = domain_of(msg.from_address)

        dkim_headers = [(i, parse_tags(v)) for i, v in enumerate(msg.header_all("DKIM-Signature"))]
        arc_chain = read_arc_chain(msg.headers)
        key_names = [n for n in (key_name(t) for _, t in dkim_headers) if n]
        key_names += arc_chain.key_names

        public_ip = ip if ip and is_public_ip(ip) else None
        spf_domain = domain_of(mail_from) or (helo or "").lower().rstrip(".") or None
        config = ctx.config(AuthConfig)
        spf_task = evaluate_spf(resolver, ip, mail_from, helo, receiver=config.receiver)
        keys_task = resolver.prefetch_txt(key_names)
        dmarc_task = find_dmarc_record(resolver, from_domain) if from_domain else _no_dmarc()
        posture_task = read_posture(resolver, public_ip, from_domain)
        tree_task = walk_spf_tree(resolver, spf_domain) if spf_domain else _no_tree()
        spf, keys, (dmarc, dmarc_error), posture, tree = await asyncio.gather(
            spf_task, keys_task, dmarc_task, posture_task, tree_task
        )
        posture.spf_tree = tree
        sigs = await in_thread(lambda: [verify_dkim(msg.raw, i, keys, t) for i, t in dkim_headers])
        arc = (
            arc_chain.details
            if arc_chain.settled
            else await in_thread(verify_arc, msg.raw, arc_chain, keys)
        )
        evaluate_dmarc(dmarc, spf, sigs)
        await evaluate_tree_walk(resolver, dmarc, spf, sigs)
        if dmarc_error:
            dmarc.result, dmarc.reason = "temperror", dmarc_error
        serv_id = config.serv_id
        details = AuthDetails(
            spf=spf,
            dkim=sigs,
            dkim_result=combined_dkim_result(sigs),
            dmarc=dmarc,
            arc=arc,
            posture=posture,
            authentication_results=authentication_results(serv_id, spf, sigs, dmarc, arc, posture),
        )
        return self._result(details, msg)

    def _result(self, d: AuthDetails, msg: ParsedMessage) -> CheckResult:
        findings = auth_findings(d, msg)
        # The results that needed DNS: an unsigned message's DKIM "none" and an unevaluated
        # SPF needed none, so they cannot hide a DNS outage behind a mere warning.
        words = [
            word
            for word, needed_dns in (
                (d.spf.result, d.spf.evaluated),
                (d.dkim_result, bool(d.dkim)),
                (d.dmarc.result, d.dmarc.from_domain is not None),
            )
            if needed_dns
        ]
        temp = [w for w in words if w == "temperror"]
        summary = (
            f"SPF {d.spf.result}, DKIM {d.dkim_result}, DMARC {d.dmarc.result}, ARC {d.arc.result}"
        )
        if temp and len(temp) == len(words):  # every answer this message needed is unknown
            return CheckResult(
                name=self.name,
                status=Status.ERRORED,
                summary=summary,
                error="DNS lookups failed (temperror)",
                retryable=True,
                findings=findings,
                details=d.model_dump(),
            )
        return CheckResult.from_findings(
            self.name,
            findings,
            RULES.penalties,
            summary=summary,
            details=d.model_dump(),
            retryable=bool(temp),
        )


async def _no_dmarc() -> tuple[DmarcDetails, str | None]:
    return DmarcDetails(result="none", reason="no From address"), None


async def _no_tree() -> SpfTreeDetails | None:
    return None
