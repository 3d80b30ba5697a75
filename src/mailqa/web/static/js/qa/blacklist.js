// The blacklist check's panel: each DNS list lookup, its result and why, and the lists
// that could not be used.
//
// The blacklist check's details: {ip, ip_note, domains, results: [{name, zone, kind, purpose,
// target, query, status: listed|clean|error|unusable, listed, codes: [{code, meanings}],
// reason, error, delist_url, response_ms}], zones: [{name, zone, usable, problem}], listed,
// errors, lists_version}. Read defensively, as any stored report.

import { badge, externalLink, h, isObj } from "../dom.js";
import { renderFindings } from "./common.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("./common.js").PanelContext} PanelContext */

/** Badge class of each lookup status. @type {Record<string, string>} */
const LIST_STATUS = { listed: "n", clean: "y", error: "a", unusable: "u" };
/** @type {Record<string, number>} */
const STATUS_ORDER = { listed: 0, error: 1, unusable: 2, clean: 3 };

/**
 * @param {HTMLElement} panel
 * @param {CheckResult} result
 * @param {PanelContext} ctx
 */
export function renderBlacklist(panel, result, ctx) {
  /** @type {Record<string, any>} */
  const d = isObj(result.details) ? result.details : {};
  /** @type {Record<string, any>[]} */
  const rows = Array.isArray(d.results) ? d.results.filter(isObj) : [];
  /** @type {unknown[]} */
  const domains = Array.isArray(d.domains) ? d.domains : [];
  panel.append(
    h(
      "div",
      { class: "card" },
      h("p", {}, `${d.listed ?? rows.filter((r) => r.listed && r.purpose !== "allow").length} listing(s) in ${rows.length} lookup(s)${d.errors ? `, ${d.errors} unknown` : ""}`),
      h(
        "dl",
        { class: "msg-meta" },
        h("dt", {}, "Sending IP"),
        h("dd", {}, d.ip ? h("span", { class: "mono" }, d.ip) : h("span", { class: "muted" }, d.ip_note || "not looked up")),
        h("dt", {}, "Domains"),
        h("dd", { class: "break" }, domains.length ? domains.join(", ") : h("span", { class: "muted" }, "none")),
        d.lists_version ? [h("dt", {}, "Lists"), h("dd", {}, String(d.lists_version))] : null,
      ),
    ),
  );
  if (rows.length) {
    const sorted = [...rows].sort((a, b) => (STATUS_ORDER[a.status] ?? 4) - (STATUS_ORDER[b.status] ?? 4));
    panel.append(
      h(
        "div",
        { class: "card table-wrap" },
        h(
          "table",
          { id: "blacklist-table" },
          h("caption", { class: "visually-hidden" }, "DNS list lookups"),
          h("thead", {}, h("tr", {}, ["List", "Target", "Result", "Reason", "Delisting"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            sorted.map((r) => {
              const allow = r.purpose === "allow";
              const word = allow && r.listed ? "allow-listed" : String(r.status || (r.listed ? "listed" : "clean"));
              const kind = allow && r.listed ? "y" : LIST_STATUS[r.status] || (r.listed ? "n" : "u");
              const meanings = (Array.isArray(r.codes) ? r.codes : []).filter(isObj).map((c) => `${c.code}${Array.isArray(c.meanings) && c.meanings.length ? ` (${c.meanings.join(", ")})` : ""}`);
              return h(
                "tr",
                { "data-status": r.status || "" },
                h("td", {}, h("div", {}, r.name || r.zone || ""), h("div", { class: "mono muted small" }, r.zone || "")),
                h("td", {}, h("span", { class: "mono break" }, r.target || ""), h("div", { class: "muted small" }, [r.kind, allow ? "allow list" : null].filter(Boolean).join(" · "))),
                h("td", {}, badge(word, kind, `Result ${word}`)),
                h("td", { class: "break" }, meanings.length ? h("div", {}, meanings.join("; ")) : null, r.reason ? h("div", {}, r.reason) : null, r.error ? h("div", { class: "muted" }, r.error) : null),
                h("td", {}, r.listed && !allow && r.delist_url ? externalLink(r.delist_url, r.delist_url) : ""),
              );
            }),
          ),
        ),
      ),
    );
  }
  const broken = (Array.isArray(d.zones) ? d.zones : []).filter((/** @type {unknown} */ z) => isObj(z) && z.usable === false);
  if (broken.length) {
    panel.append(
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Lists that could not be used"),
        h("ul", {}, broken.map((/** @type {Record<string, any>} */ z) => h("li", { class: "break" }, h("strong", {}, z.name || z.zone), ` (${z.zone}): ${z.problem || "unusable"}`))),
      ),
    );
  }
  panel.append(h("div", { class: "card" }, renderFindings(result.findings, ctx)));
}
