// The accessibility check's panel: findings by impact with their WCAG criterion, fix,
// clients that strip the fix and source lines; what needs a person's review; the outline.
//
// The accessibility check stores one finding per rule and severity: data.impact
// (critical|serious|moderate|minor), data.wcag / data.criterion, data.fix, data.occurrences,
// data.source ("axe-core (rendered)": only the render found it), data.confirmed_by (axe-core
// found it too) and, for fixes that are attributes or media queries, data.clients ({client,
// name, support n|a, notes}). details.needs_review lists what a machine cannot decide
// ({kind, question, rule, line, column, snippet}), details.headings the outline ({level, text, line}). Every
// field is read defensively.

import { badge, h, isObj } from "../dom.js";
import { genericDetails, locatedLines, locationButton } from "./common.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("../api.js").Finding} Finding */
/** @typedef {import("./common.js").PanelContext} PanelContext */

const IMPACTS = ["critical", "serious", "moderate", "minor"];
/** Badge class of each impact. @type {Record<string, string>} */
const IMPACT_KIND = { critical: "error", serious: "warn", moderate: "info", minor: "info" };

/** @param {Finding} f */
function impactOf(f) {
  const d = isObj(f.data) ? f.data : {};
  return typeof d.impact === "string" && IMPACTS.includes(d.impact) ? d.impact : f.severity === "error" ? "critical" : f.severity === "warning" ? "serious" : "minor";
}

/**
 * The clients that strip a finding's fix, as one line.
 * @param {Record<string, unknown>} d
 */
function strippedBy(d) {
  const clients = Array.isArray(d.clients) ? d.clients.filter(isObj) : [];
  if (!clients.length) return null;
  const names = (/** @type {string} */ support) => clients.filter((c) => c.support === support).map((c) => String(c.name || c.client));
  const parts = [];
  const gone = names("n");
  const partly = names("a");
  if (gone.length) parts.push(`stripped by ${gone.join(", ")}`);
  if (partly.length) parts.push(`kept in part by ${partly.join(", ")}`);
  return h("p", { class: "small a11y-clients" }, h("strong", {}, "Clients: "), `the fix is ${parts.join("; ")}.`);
}

/**
 * @param {HTMLElement} panel
 * @param {CheckResult} result
 * @param {PanelContext} ctx
 */
export function renderAccessibility(panel, result, ctx) {
  /** @type {Record<string, any>} */
  const d = isObj(result.details) ? result.details : {};
  const findings = [...(result.findings || [])].sort((a, b) => IMPACTS.indexOf(impactOf(a)) - IMPACTS.indexOf(impactOf(b)) || a.rule.localeCompare(b.rule));
  /** @type {Record<string, number>} */
  const counts = Object.fromEntries(IMPACTS.map((i) => [i, 0]));
  for (const f of findings) counts[impactOf(f)] += 1;
  const review = Array.isArray(d.needs_review) ? d.needs_review.filter(isObj) : [];
  const reviewTotal = typeof d.needs_review_total === "number" ? d.needs_review_total : review.length;

  panel.append(
    h(
      "div",
      { class: "card", id: "a11y-summary" },
      h(
        "p",
        { class: "row" },
        IMPACTS.map((i) => h("span", { class: "a11y-count", "data-impact": i }, badge(String(counts[i]), IMPACT_KIND[i], `${counts[i]} ${i}`), ` ${i}`)),
        h("span", { class: "a11y-count", "data-impact": "review" }, badge(String(reviewTotal), "info", `${reviewTotal} to review`), " to review"),
      ),
      h(
        "p",
        { class: "muted small" },
        "Critical findings fail the default gate (error); serious ones are warnings; moderate and minor ones are notes. Language: ",
        h("strong", {}, d.language ? String(d.language) : "none"),
        d.direction ? ` · direction ${d.direction}` : "",
        typeof d.text_checked === "number" ? ` · contrast computed for ${d.text_checked} element(s), unknown for ${d.contrast_unknown || 0}` : "",
        ".",
      ),
    ),
  );

  const list = h("ul", { class: "findings", id: "a11y-findings" });
  for (const f of findings) {
    const data = isObj(f.data) ? f.data : {};
    const impact = impactOf(f);
    const located = locatedLines(f.locations);
    list.append(
      h(
        "li",
        { class: `finding sev-${f.severity}`, "data-rule": f.rule, "data-impact": impact },
        h(
          "div",
          { class: "row" },
          badge(impact, IMPACT_KIND[impact]),
          h("span", { class: "title" }, f.title || f.rule),
          h("span", { class: "rule mono" }, f.rule),
          typeof data.occurrences === "number" ? h("span", { class: "muted small" }, `× ${data.occurrences}`) : null,
          typeof data.source === "string" ? h("span", { class: "a11y-source" }, badge(data.source, "info", "Found in the rendered message, not in the source")) : null,
          typeof data.confirmed_by === "string" ? h("span", { class: "muted small a11y-confirmed" }, `confirmed by ${data.confirmed_by}`) : null,
          f.url ? h("a", { href: f.url, target: "_blank", rel: "noopener noreferrer" }, "Learn more") : null,
        ),
        data.criterion ? h("p", { class: "small a11y-criterion" }, String(data.criterion)) : null,
        f.message ? h("div", {}, f.message) : null,
        strippedBy(data),
        located.length
          ? h(
              "div",
              { class: "locs" },
              located.map((loc) => [locationButton(loc, ctx), loc.snippet ? h("code", { class: "snippet" }, loc.snippet) : null]),
            )
          : null,
      ),
    );
  }
  panel.append(h("div", { class: "card" }, h("h3", {}, `Findings (${findings.length})`), findings.length ? list : h("p", { class: "muted" }, "No findings.")));

  const reviewList = h(
    "ul",
    { class: "findings", id: "a11y-review" },
    review.map((item) =>
      h(
        "li",
        { class: "finding sev-info", "data-kind": String(item.kind || "") },
        h("div", { class: "row" }, badge(String(item.kind || "review"), "info"), h("span", { class: "title" }, String(item.question || "")), item.rule ? h("span", { class: "rule mono" }, String(item.rule)) : null),
        Number.isInteger(item.line)
          ? h("div", { class: "locs" }, locationButton({ part: "html", line: item.line, column: item.column, snippet: item.snippet }, ctx), item.snippet ? h("code", { class: "snippet" }, String(item.snippet)) : null)
          : null,
      ),
    ),
  );
  panel.append(
    h(
      "div",
      { class: "card" },
      h("h3", {}, `Needs review (${reviewTotal})`),
      h("p", { class: "muted small" }, "What a machine cannot decide: a person should look at each of these."),
      review.length ? reviewList : h("p", { class: "muted" }, "Nothing to review."),
      reviewTotal > review.length ? h("p", { class: "muted small" }, `${reviewTotal - review.length} more not listed.`) : null,
    ),
  );

  const headings = Array.isArray(d.headings) ? d.headings.filter(isObj) : [];
  if (headings.length) {
    panel.append(
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Heading outline"),
        h(
          "ol",
          { id: "a11y-outline", class: "small" },
          headings.map((x) => h("li", { style: `margin-left:${(Number(x.level) - 1) * 1.25}rem` }, h("span", { class: "mono" }, `h${x.level} `), String(x.text || ""), Number.isInteger(x.line) ? [" ", locationButton({ part: "html", line: x.line }, ctx)] : null)),
        ),
      ),
    );
  }
  const rest = { ...d };
  for (const k of ["needs_review", "headings", "wcag"]) delete rest[k];
  const g = genericDetails(rest);
  if (g) panel.append(g);
}
