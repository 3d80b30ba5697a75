// The authentication check's panel: SPF, each DKIM signature, DMARC with alignment, ARC,
// the sending host's reverse DNS, and the Authentication-Results header.
//
// The auth check's details: {spf: {result, identity, domain, sender, ip, record, matched,
// reason, dns_lookups, void_lookups, chain, explanation}, dkim: [{index, domain, selector,
// algorithm, key_bits, identity, body_length, signed_headers, result, reason, aligned}],
// dkim_result, dmarc: {result, from_domain, organizational_domain, record_domain, record, policy,
// subdomain_policy, applied_policy, percent, adkim, aspf, spf_aligned, dkim_aligned, rua,
// reason}, arc: {result, instances, reason}, posture: {from_domain_mx, ptr_names, fcrdns,
// iprev}, authentication_results}. Read defensively, as any stored report.

import { badge, h, isObj } from "../dom.js";
import { genericDetails, renderFindings } from "./common.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("../dom.js").Child} Child */
/** @typedef {import("./common.js").PanelContext} PanelContext */

/** @param {unknown} value an authentication result (pass, fail, softfail, ...) */
function resultBadge(value) {
  const s = String(value ?? "none").toLowerCase();
  const kind = s === "pass" ? "y" : ["fail", "permerror"].includes(s) ? "n" : ["softfail", "neutral", "temperror", "policy"].includes(s) ? "a" : "u";
  return badge(s, kind, `Result ${s}`);
}

/**
 * @param {unknown} value
 * @param {string} label
 */
function yesNo(value, label) {
  return badge(`${label}: ${value ? "yes" : "no"}`, value ? "y" : "n");
}

/**
 * Whether an ARC signature verified; null: not checked (the chain broke before it).
 * @param {unknown} value
 * @param {string} label
 */
function verified(value, label) {
  if (typeof value !== "boolean") return badge(`${label}: not checked`, "u");
  return badge(`${label}: ${value ? "verified" : "failed"}`, value ? "y" : "n");
}

/**
 * A definition list of the facts that have a value.
 * @param {[string, unknown][]} pairs
 */
function facts(pairs) {
  const shown = pairs.filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length));
  if (!shown.length) return null;
  return h(
    "dl",
    { class: "msg-meta" },
    shown.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "break" }, v instanceof Node ? v : Array.isArray(v) ? v.join(", ") : String(v))]),
  );
}

/**
 * @param {string} name
 * @param {string} title
 * @param {unknown} result
 * @param {unknown} reason
 * @param {...Child} body
 */
function authCard(name, title, result, reason, ...body) {
  return h(
    "div",
    { class: "card", "data-auth": name },
    h("h3", {}, title),
    h("div", { class: "row" }, resultBadge(result), reason ? h("span", { class: "reason" }, String(reason)) : null),
    body,
  );
}

/**
 * @param {HTMLElement} panel
 * @param {CheckResult} result
 * @param {PanelContext} ctx
 */
export function renderAuth(panel, result, ctx) {
  /** @type {Record<string, any>} */
  const d = isObj(result.details) ? result.details : {};
  const spf = isObj(d.spf) ? d.spf : null;
  const dmarc = isObj(d.dmarc) ? d.dmarc : null;
  const arc = isObj(d.arc) ? d.arc : null;
  const posture = isObj(d.posture) ? d.posture : null;
  /** @type {Record<string, any>[]} */
  const sigs = Array.isArray(d.dkim) ? d.dkim.filter(isObj) : [];
  if (spf) {
    panel.append(
      authCard(
        "spf",
        "SPF",
        spf.result,
        spf.reason,
        facts([
          ["Identity", spf.identity],
          ["Domain", spf.domain],
          ["Sender", spf.sender],
          ["IP", spf.ip],
          ["Record", spf.record ? h("code", {}, spf.record) : null],
          ["Matched", spf.matched],
          ["Explanation", spf.explanation],
          ["DNS lookups", typeof spf.dns_lookups === "number" ? `${spf.dns_lookups} (void ${spf.void_lookups ?? 0})` : null],
          ["Chain", spf.chain],
        ]),
      ),
    );
  }
  if (Array.isArray(d.dkim) || d.dkim_result) {
    panel.append(
      authCard(
        "dkim",
        "DKIM",
        d.dkim_result ?? (sigs.length ? sigs[0].result : "none"),
        sigs.length ? `${sigs.length} signature(s)` : "No signature.",
        sigs.map((s) =>
          h(
            "div",
            { class: "signature", "data-signature": String(s.index ?? "") },
            h("h4", {}, `Signature ${Number.isInteger(s.index) ? s.index + 1 : ""}${s.domain ? ` · d=${s.domain}` : ""}${s.selector ? ` · s=${s.selector}` : ""}`),
            h("div", { class: "row" }, resultBadge(s.result), yesNo(s.aligned, "aligned with From"), s.reason ? h("span", { class: "reason" }, String(s.reason)) : null),
            facts([
              ["Algorithm", s.algorithm],
              ["Key", typeof s.key_bits === "number" ? `${s.key_bits} bits` : null],
              ["Identity", s.identity],
              ["Body length", s.body_length],
              ["Signed headers", s.signed_headers],
            ]),
          ),
        ),
      ),
    );
  }
  if (dmarc) {
    panel.append(
      authCard(
        "dmarc",
        "DMARC",
        dmarc.result,
        dmarc.reason,
        h("div", { class: "row alignment" }, yesNo(dmarc.spf_aligned, `SPF aligned (${dmarc.aspf === "s" ? "strict" : "relaxed"})`), yesNo(dmarc.dkim_aligned, `DKIM aligned (${dmarc.adkim === "s" ? "strict" : "relaxed"})`)),
        facts([
          ["From domain", dmarc.from_domain],
          ["Organizational domain", dmarc.organizational_domain],
          ["Record", dmarc.record ? h("code", {}, dmarc.record) : null],
          ["Policy", dmarc.policy ? `${dmarc.policy}${dmarc.subdomain_policy ? ` (subdomains: ${dmarc.subdomain_policy})` : ""}${typeof dmarc.percent === "number" && dmarc.percent !== 100 ? `, ${dmarc.percent}%` : ""}` : null],
          ["Applied policy", dmarc.applied_policy],
          ["Reports to", dmarc.rua],
        ]),
      ),
    );
  }
  if (arc) {
    /** @type {Record<string, any>[]} */
    const arcSets = Array.isArray(arc.chain) ? arc.chain.filter(isObj) : [];
    panel.append(
      authCard(
        "arc",
        "ARC",
        arc.result,
        arc.reason,
        facts([
          ["Instances", arc.instances],
          ["Broken at", typeof arc.broken_at === "number" ? `i=${arc.broken_at}` : null],
          ["Oldest pass", typeof arc.oldest_pass === "number" ? (arc.oldest_pass ? `i=${arc.oldest_pass}` : "0 (every message signature verifies)") : null],
        ]),
        arcSets.map((s) =>
          h(
            "div",
            { class: "signature", "data-arc-instance": String(s.instance ?? "") },
            h("h4", {}, `Set i=${s.instance ?? "?"}${s.authserv_id ? ` · ${s.authserv_id}` : ""}`),
            h("div", { class: "row" }, verified(s.seal_valid, "seal"), verified(s.signature_valid, "message signature"), s.problem ? h("span", { class: "reason" }, String(s.problem)) : null),
            facts([
              ["Seal", s.seal_domain || s.seal_selector ? `d=${s.seal_domain ?? "?"} s=${s.seal_selector ?? "?"}` : null],
              ["cv", s.cv],
              ["Message signature", s.signature_domain || s.signature_selector ? `d=${s.signature_domain ?? "?"} s=${s.signature_selector ?? "?"}` : null],
            ]),
          ),
        ),
      ),
    );
  }
  if (posture) {
    panel.append(
      h(
        "div",
        { class: "card", "data-auth": "posture" },
        h("h3", {}, "Sending host"),
        h("div", { class: "row" }, resultBadge(posture.iprev), h("span", {}, "reverse DNS (iprev)")),
        facts([
          ["PTR names", posture.ptr_names],
          ["Forward-confirmed", typeof posture.fcrdns === "boolean" ? (posture.fcrdns ? "yes" : "no") : null],
          ["From domain MX", posture.from_domain_mx],
        ]),
      ),
    );
  }
  if (d.authentication_results) {
    panel.append(h("div", { class: "card" }, h("h3", {}, "Authentication-Results"), h("pre", { class: "break small", id: "auth-results" }, String(d.authentication_results))));
  }
  if (!spf && !dmarc && !sigs.length) {
    const g = genericDetails(d);
    panel.append(g || h("p", { class: "muted" }, "No authentication details."));
  }
  panel.append(h("div", { class: "card" }, renderFindings(result.findings, ctx)));
}
