// The QA tabs of a message: the overview (a card per check) and one panel per check, drawn
// by the check's own panel when it has one, else generically.

import { badge, errorBox, fmtDate, h } from "../dom.js";
import { renderAccessibility } from "./accessibility.js";
import { renderAuth } from "./auth.js";
import { renderBlacklist } from "./blacklist.js";
import { checkHeader, checkLabel, genericDetails, renderFindings, reportUnavailable } from "./common.js";
import { renderHtmlCheck } from "./html.js";
import { renderLinks } from "./links.js";
import { renderSpam } from "./spam.js";

/** @typedef {import("./common.js").PanelContext} PanelContext */
/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {(panel: HTMLElement, result: CheckResult, ctx: PanelContext) => void} CheckPanel */

/** @type {Record<string, CheckPanel>} */
const CHECK_PANELS = {
  html: renderHtmlCheck,
  accessibility: renderAccessibility,
  spam: renderSpam,
  links: renderLinks,
  blacklist: renderBlacklist,
  auth: renderAuth,
};

/**
 * @param {HTMLElement} panel
 * @param {PanelContext} ctx
 */
export function renderOverview(panel, ctx) {
  const r = ctx.report;
  if (reportUnavailable(panel, r)) return;
  panel.append(
    h(
      "div",
      { class: "row", style: "margin-bottom:1rem" },
      h("span", { class: "score-big", "aria-label": `Overall score ${r.score ?? "none"}` }, typeof r.score === "number" ? String(Math.round(r.score)) : "—"),
      h("div", {}, badge(r.status, r.status), h("div", { class: "muted small" }, `Analysed ${fmtDate(r.created_at)} in ${Math.round(r.duration_ms || 0)} ms${r.rules_version ? ` · rules ${r.rules_version}` : ""}`)),
    ),
    h(
      "div",
      { class: "qa-summary" },
      Object.values(r.checks).map((c) =>
        h(
          "button",
          { type: "button", class: "qa-card", onclick: () => ctx.openTab(`qa-${c.name}`) },
          h("span", { class: "row" }, h("span", { class: "name" }, checkLabel(c.name)), badge(c.status, c.status)),
          typeof c.score === "number" ? h("span", {}, `Score ${Math.round(c.score)}`) : null,
          h("span", { class: "muted small" }, c.summary || ""),
          h("span", { class: "muted small" }, `${(c.findings || []).length} finding(s)`),
        ),
      ),
    ),
  );
  if (r.compliance) panel.append(renderCompliance(r.compliance));
}

/** @type {Record<string, import("../api.js").Status>} */
const COMPLIANCE_BADGE = { pass: "passed", fail: "failed", unknown: "skipped" };

/**
 * The bulk-sender requirements: one line per provider, then each item with its reason.
 * @param {import("../api.js").Compliance} compliance
 */
function renderCompliance(compliance) {
  return h(
    "section",
    { class: "compliance", "aria-labelledby": "compliance-title" },
    h("h3", { id: "compliance-title" }, "Bulk-sender requirements"),
    h(
      "ul",
      { class: "compliance-profiles" },
      compliance.profiles.map((p) =>
        h("li", { "data-profile": p.id }, badge(p.status, COMPLIANCE_BADGE[p.status]), ` ${p.name}: ${p.passed}/${p.total}`),
      ),
    ),
    h(
      "table",
      { class: "compliance-items" },
      h("thead", {}, h("tr", {}, h("th", {}, "Requirement"), h("th", {}, "Result"), h("th", {}, "Why"))),
      h(
        "tbody",
        {},
        compliance.items.map((i) =>
          h(
            "tr",
            { "data-item": i.id },
            h("td", {}, h("a", { href: i.source, target: "_blank", rel: "noopener noreferrer" }, i.title)),
            h("td", {}, badge(i.status, COMPLIANCE_BADGE[i.status])),
            h("td", { class: "small" }, i.reason),
          ),
        ),
      ),
    ),
    h("p", { class: "muted small" }, "Unknown: what the checks that ran could not tell (authentication needs the online checks). Spam-rate limits need the providers' own statistics."),
  );
}

/**
 * @param {HTMLElement} panel
 * @param {string} name the check
 * @param {PanelContext} ctx
 */
export function renderCheck(panel, name, ctx) {
  const r = ctx.report;
  if (reportUnavailable(panel, r)) return;
  const result = r.checks[name];
  if (!result) {
    panel.append(h("p", { class: "muted" }, "This check is not in the report."));
    return;
  }
  panel.append(checkHeader(result));
  const special = CHECK_PANELS[name];
  if (special && result.status !== "skipped") {
    try {
      special(panel, result, ctx);
    } catch (err) {
      panel.append(errorBox(err));
      const g = genericDetails(result.details);
      if (g) panel.append(g);
    }
  } else {
    panel.append(h("div", { class: "card" }, renderFindings(result.findings, ctx)));
    const g = genericDetails(result.details);
    if (g) panel.append(g);
  }
}
