"""The rules of the auth check: every finding it makes is one of these."""

from __future__ import annotations

from mailqa.core.report import Severity
from mailqa.core.rules import CheckRules

RULES = CheckRules(
    "auth",
    page="auth-and-blacklists.md#auth",
    category="authentication",
    penalties={Severity.ERROR: 25.0, Severity.WARNING: 10.0},
)
SPF_FAIL = RULES.rule(
    "spf-fail",
    "SPF fails",
    Severity.ERROR,
    "The sending IP is not allowed to send for the domain.",
    aliases=["spf_fail"],
)
SPF_SOFTFAIL = RULES.rule(
    "spf-softfail",
    "SPF soft-fails",
    Severity.WARNING,
    "The domain says the sending IP is probably not allowed to send (~all).",
    aliases=["spf_softfail"],
)
SPF_PERMERROR = RULES.rule(
    "spf-permerror",
    "SPF record is broken",
    Severity.ERROR,
    "A syntax error, several SPF records or a redirect to nothing: receivers treat it as failed.",
    aliases=["spf_permerror"],
)
SPF_TOO_MANY_LOOKUPS = RULES.rule(
    "spf-too-many-lookups",
    "SPF needs more than 10 DNS lookups",
    Severity.ERROR,
    "RFC 7208 allows 10 DNS-querying terms; beyond that SPF is permerror.",
    aliases=["spf_too_many_lookups"],
)
SPF_VOID_LOOKUPS = RULES.rule(
    "spf-void-lookups",
    "SPF has too many lookups that find nothing",
    Severity.ERROR,
    "More than 2 void lookups make SPF permerror (RFC 7208).",
    aliases=["spf_void_lookups"],
)
SPF_TEMPERROR = RULES.rule(
    "spf-temperror",
    "SPF could not be checked",
    Severity.WARNING,
    "The SPF lookups failed (DNS).",
    aliases=["spf_temperror"],
)
SPF_MISSING = RULES.rule(
    "spf-missing",
    "No SPF record",
    Severity.WARNING,
    "The domain publishes no SPF record; receivers cannot tell who may send for it.",
    aliases=["spf_missing"],
)
SPF_NOT_EVALUATED = RULES.rule(
    "spf-not-evaluated",
    "SPF not evaluated",
    Severity.INFO,
    "No sending IP is known (no public Received hop).",
    aliases=["spf_not_evaluated"],
)
SPF_RECORD_TOO_MANY_LOOKUPS = RULES.rule(
    "spf-record-too-many-lookups",
    "SPF record tree needs more than 10 DNS lookups",
    Severity.WARNING,
    "The SPF record and its includes hold more than 10 DNS-querying terms: a sender matched after "
    "the 10th gets permerror, which receivers treat as failed.",
    aliases=["spf_record_too_many_lookups"],
)
SPF_RECORD_ERROR = RULES.rule(
    "spf-record-error",
    "SPF record tree has errors",
    Severity.WARNING,
    "An include or redirect of the SPF record gives permerror for any sender whose evaluation "
    "reaches it.",
    aliases=["spf_record_error"],
)
SPF_ALLOWS_ALL = RULES.rule(
    "spf-allows-all",
    "SPF allows every sender",
    Severity.WARNING,
    "The SPF record ends in +all: anyone may send as this domain.",
    aliases=["spf_allows_all"],
)
DKIM_MISSING = RULES.rule(
    "dkim-missing",
    "Message is not DKIM-signed",
    Severity.WARNING,
    "Mailbox providers expect signed mail, and DMARC then rests on SPF alone.",
    aliases=["dkim_missing"],
)
DKIM_FAIL = RULES.rule(
    "dkim-fail",
    "DKIM signature does not verify",
    Severity.ERROR,
    "The body or signed headers changed after signing, or the key does not match.",
    aliases=["dkim_fail"],
)
DKIM_PERMERROR = RULES.rule(
    "dkim-permerror",
    "DKIM signature cannot be checked",
    Severity.ERROR,
    "No key at the selector, or a malformed signature or key record.",
    aliases=["dkim_permerror"],
)
DKIM_TEMPERROR = RULES.rule(
    "dkim-temperror",
    "DKIM signature could not be checked",
    Severity.WARNING,
    "The key lookup failed (DNS).",
    aliases=["dkim_temperror"],
)
DKIM_WEAK_KEY = RULES.rule(
    "dkim-weak-key",
    "DKIM key shorter than 1024 bits",
    Severity.ERROR,
    "Keys under 1024 bits are not accepted (RFC 8301); use 2048-bit RSA or Ed25519.",
    aliases=["dkim_weak_key"],
)
DMARC_FAIL = RULES.rule(
    "dmarc-fail",
    "DMARC fails",
    Severity.ERROR,
    "Neither SPF nor DKIM passed aligned with the From domain; the domain's policy applies.",
    aliases=["dmarc_fail"],
)
DMARC_NOT_EVALUATED = RULES.rule(
    "dmarc-not-evaluated",
    "DMARC not decided",
    Severity.INFO,
    "The domain has a DMARC record but no result could be decided for this message.",
    aliases=["dmarc_not_evaluated"],
)
DMARC_TESTING = RULES.rule(
    "dmarc-testing",
    "DMARC policy is in testing mode (t=y)",
    Severity.INFO,
    "Receivers following DMARCbis are asked not to apply the policy; receivers following only RFC "
    "7489 ignore t= and apply it.",
    aliases=["dmarc_testing"],
)
DMARC_MISSING = RULES.rule(
    "dmarc-missing",
    "No DMARC record",
    Severity.WARNING,
    "Gmail and Yahoo require DMARC for bulk senders.",
    aliases=["dmarc_missing"],
)
DMARC_TEMPERROR = RULES.rule(
    "dmarc-temperror",
    "DMARC could not be checked",
    Severity.WARNING,
    "The DMARC lookup failed (DNS).",
    aliases=["dmarc_temperror"],
)
DMARC_POLICY_NONE = RULES.rule(
    "dmarc-policy-none",
    "DMARC policy is p=none",
    Severity.INFO,
    "The policy only monitors: spoofed mail is not rejected.",
    aliases=["dmarc_policy_none"],
)
DMARC_RECORD_IGNORED = RULES.rule(
    "dmarc-record-ignored",
    "DMARC record is broken and not used",
    Severity.WARNING,
    "A broken p= or sp=, a repeated tag, a record not starting with v=DMARC1 or several records "
    "at one name: receivers apply no DMARC to the domain's mail.",
    aliases=["dmarc_record_ignored"],
)
DMARC_RECORD_POLICY_NONE = RULES.rule(
    "dmarc-record-read-as-none",
    "Broken DMARC policy read as p=none",
    Severity.WARNING,
    "p= or sp= is broken; as the record has a valid rua=, receivers act as if it said p=none.",
    aliases=["dmarc_record_read_as_none"],
)
DMARC_TAG_INVALID = RULES.rule(
    "dmarc-tag-invalid",
    "DMARC tag has an invalid value",
    Severity.WARNING,
    "adkim, aspf, pct, fo, rf, ri, psd or t has a value outside its syntax; receivers use the "
    "tag's default instead.",
    aliases=["dmarc_tag_invalid"],
)
DMARC_RECORD_NONCONFORMANT = RULES.rule(
    "dmarc-record-nonconformant",
    "DMARC record strays from the grammar",
    Severity.INFO,
    "p= not right after v= (RFC 7489; DMARCbis allows it), unknown tags or stray text: "
    "receivers skip or accept them.",
    aliases=["dmarc_record_nonconformant"],
)
DMARC_PCT = RULES.rule(
    "dmarc-pct",
    "DMARC policy applies to a sample of failing mail (pct=)",
    Severity.INFO,
    "With pct= under 100 receivers apply the policy to that share of failing mail and the "
    "next-weaker policy to the rest (RFC 7489); DMARCbis drops pct= for t=.",
    aliases=["dmarc_pct"],
)
DMARC_DISCOVERY_DIFFERS = RULES.rule(
    "dmarc-discovery-differs",
    "RFC 7489 and DMARCbis find different DMARC policies",
    Severity.WARNING,
    "The Public Suffix List (RFC 7489) and the DNS tree walk (DMARCbis) give a different "
    "record, policy or organizational domain for the From domain.",
    aliases=["dmarc_discovery_differs"],
)
DMARC_ALIGNMENT_DIFFERS = RULES.rule(
    "dmarc-alignment-differs",
    "RFC 7489 and DMARCbis align differently",
    Severity.WARNING,
    "With the tree walk's organizational domains (DMARCbis) SPF or DKIM aligns differently "
    "than with the Public Suffix List (RFC 7489), so receivers can disagree on the result.",
    aliases=["dmarc_alignment_differs"],
)
ARC_FAIL = RULES.rule(
    "arc-fail",
    "ARC chain does not validate",
    Severity.WARNING,
    "A forwarder's ARC chain (RFC 8617) is broken: a set is missing, repeated or out of "
    "order, a seal says cv=fail, or a seal or the newest message signature does not verify.",
    aliases=["arc_fail"],
)
NO_MX = RULES.rule(
    "no-mx",
    "From domain has no MX record",
    Severity.WARNING,
    "Replies and bounces cannot be delivered, and some receivers reject such senders.",
    aliases=["no_mx"],
)
NULL_MX = RULES.rule(
    "null-mx",
    "From domain accepts no mail (null MX)",
    Severity.WARNING,
    "The domain publishes a null MX (RFC 7505): replies cannot be delivered.",
    aliases=["null_mx"],
)
NO_PTR = RULES.rule(
    "no-ptr",
    "Sending IP has no reverse DNS",
    Severity.WARNING,
    "Many receivers reject or penalise senders without a PTR record.",
    aliases=["no_ptr"],
)
FCRDNS_FAIL = RULES.rule(
    "fcrdns-fail",
    "Reverse DNS is not forward-confirmed",
    Severity.WARNING,
    "The PTR names of the sending IP do not resolve back to it.",
    aliases=["fcrdns_fail"],
)
