// What every QA panel shares: check names, the report's state, the check header, findings
// with their locations, and a generic view of any details payload.

import { badge, errorBox, externalLink, h, isObj, scoreKind } from "../dom.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("../api.js").Finding} Finding */
/** @typedef {import("../api.js").Location} Location */
/** @typedef {import("../api.js").MessageDetail} MessageDetail */
/** @typedef {import("../api.js").Report} Report */
/** @typedef {import("../dom.js").Child} Child */

/** @typedef {{ error: string }} ReportFailure  the report could not be read */
/** The message's report: null while the analysis runs. @typedef {Report | ReportFailure | null} ReportState */

/**
 * What a panel draws from: the message, its report, and how to open another of its tabs.
 * @typedef {object} PanelContext
 * @property {MessageDetail} detail
 * @property {ReportState} report
 * @property {(key: string, anchor?: string) => void} openTab
 */

/** @type {Record<string, string>} */
const CHECK_LABELS = {
  html: "HTML check",
  spam: "Spam",
  blacklist: "Blacklists",
  auth: "Authentication",
  links: "Links",
  hygiene: "Hygiene",
  accessibility: "Accessibility",
  merge_tags: "Merge tags",
  headers: "Header checks", // not the message's Headers view
};
const CHECK_ORDER = ["html", "accessibility", "spam", "blacklist", "auth", "links", "hygiene", "merge_tags", "headers"];

/** @param {string} name */
export function checkLabel(name) {
  return CHECK_LABELS[name] || name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * Check names in tab order: the built-in checks first, then the others by name.
 * @param {string[]} names
 */
export function orderChecks(names) {
  return [...names].sort((a, b) => {
    const ia = CHECK_ORDER.indexOf(a);
    const ib = CHECK_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
}

/**
 * When retention dropped the message's raw source (null while it is kept).
 * @param {MessageDetail | null} d
 * @returns {string | null}
 */
export function sourceExpiredAt(d) {
  return (d && d.source_expired_at) || null;
}

/**
 * Draw why there is no report to show; false when there is one.
 * @param {HTMLElement} panel
 * @param {ReportState} r
 * @returns {r is null | ReportFailure}
 */
export function reportUnavailable(panel, r) {
  if (!r) {
    panel.append(h("p", { class: "muted", role: "status" }, "Analysis is still running…"));
    return true;
  }
  if ("error" in r) {
    panel.append(errorBox(r.error));
    return true;
  }
  return false;
}

/** @param {CheckResult} result */
export function checkHeader(result) {
  return h(
    "div",
    { class: "card" },
    h(
      "div",
      { class: "row" },
      h("h2", { style: "margin:0" }, checkLabel(result.name)),
      badge(result.status, result.status),
      typeof result.score === "number" ? badge(`score ${Math.round(result.score)}`, scoreKind(result.score)) : null,
      h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, `${Math.round(result.duration_ms || 0)} ms`),
    ),
    result.summary ? h("p", { style: "margin:.5rem 0 0" }, result.summary) : null,
    result.error && result.error !== result.summary ? h("p", { class: "alert" }, result.error) : null,
    result.retryable ? h("p", { class: "muted small" }, "This error is transient: re-running may succeed.") : null,
  );
}

/**
 * A finding's location: a button to where it is (the HTML source line, the headers, the
 * text), or a plain label when there is nowhere to go.
 * @param {Location} loc
 * @param {PanelContext} ctx
 */
export function locationButton(loc, ctx) {
  const part = loc.part || "html";
  const label = `${part === "html" ? "line" : `${part} line`} ${loc.line}${Number.isInteger(loc.column) ? `:${loc.column}` : ""}`;
  if (sourceExpiredAt(ctx.detail)) {
    // The source it points into was cleaned up: the location stays, as plain text.
    return h("span", { class: "badge b-info loc-gone", title: "The source was cleaned up by retention" }, label);
  }
  if (part === "html" && Number.isInteger(loc.line)) {
    return h("button", { type: "button", class: "loc-link", "aria-label": `Show HTML source ${label}`, onclick: () => ctx.openTab("source", `L${loc.line}`) }, label);
  }
  if (part === "headers") {
    return h("button", { type: "button", class: "loc-link", onclick: () => ctx.openTab("headers-list") }, label);
  }
  if (part === "text") {
    return h("button", { type: "button", class: "loc-link", onclick: () => ctx.openTab("text") }, label);
  }
  return h("span", { class: "badge b-info" }, label);
}

/**
 * The locations of a finding that have a line number (the rest cannot be pointed at).
 * @param {Location[] | undefined} locations
 */
export function locatedLines(locations) {
  return (locations || []).filter((l) => Number.isInteger(l.line));
}

/** @type {Record<string, number>} */
const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };

/**
 * @param {Finding[] | undefined} findings
 * @param {PanelContext} ctx
 * @param {{ title?: string }} [options]
 */
export function renderFindings(findings, ctx, { title = "Findings" } = {}) {
  if (!findings || !findings.length) return h("p", { class: "muted" }, "No findings.");
  const sorted = [...findings].sort((a, b) => (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3));
  return h(
    "section",
    { "aria-label": title },
    h("h3", {}, `${title} (${findings.length})`),
    h(
      "ul",
      { class: "findings" },
      sorted.map((f) =>
        h(
          "li",
          { class: `finding sev-${f.severity}` },
          h(
            "div",
            { class: "row" },
            badge(f.severity, f.severity === "warning" ? "warn" : f.severity),
            h("span", { class: "title" }, f.title || f.rule),
            h("span", { class: "rule mono" }, f.rule),
            f.url ? externalLink(f.url, "Learn more") : null,
          ),
          f.message ? h("div", {}, f.message) : null,
          (f.locations || []).length
            ? h(
                "div",
                { class: "locs" },
                (f.locations || []).map((loc) => [
                  Number.isInteger(loc.line) ? locationButton(loc, ctx) : null,
                  loc.snippet ? h("code", { class: "snippet" }, loc.snippet) : null,
                ]),
              )
            : null,
        ),
      ),
    ),
  );
}

/**
 * A table of objects: preferred columns first, then the other scalar fields.
 * @param {unknown[]} rows
 * @param {string[]} [preferred]
 * @param {string} [caption]
 */
export function objectTable(rows, preferred = [], caption = "") {
  /** @type {string[]} */
  const cols = [];
  for (const c of preferred) if (rows.some((r) => isObj(r) && r[c] !== undefined)) cols.push(c);
  for (const r of rows) {
    if (!isObj(r)) continue;
    for (const [k, v] of Object.entries(r)) {
      if (!cols.includes(k) && (v === null || typeof v !== "object")) cols.push(k);
    }
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c.replace(/_/g, " "))))),
      h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => h("td", { class: "break" }, cellValue(isObj(r) ? r[c] : r, c)))))),
    ),
  );
}

/**
 * One value of a details payload: yes/no badges, links for http(s) URLs, JSON for objects.
 * @param {unknown} v
 * @param {string} [key] the field's name
 * @returns {Node | string}
 */
export function cellValue(v, key) {
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return badge(v ? "yes" : "no", key === "listed" || key === "in_black_list" ? (v ? "n" : "y") : "info");
  if (typeof v === "string" && /url|link|delist/i.test(key || "") && /^https?:\/\//i.test(v)) return externalLink(v);
  if (typeof v === "object") return h("code", { class: "small" }, JSON.stringify(v));
  return String(v);
}

/**
 * Any details payload, readably: scalars as a list, arrays of objects as tables.
 * @param {unknown} details
 * @param {number} [depth]
 * @returns {HTMLElement | null}
 */
export function genericDetails(details, depth = 0) {
  if (!isObj(details) || !Object.keys(details).length) return null;
  const scalars = Object.entries(details).filter(([, v]) => v === null || typeof v !== "object");
  const nested = Object.entries(details).filter(([, v]) => v !== null && typeof v === "object");
  const out = h("div", { class: depth ? "" : "card" });
  if (!depth) out.append(h("h3", {}, "Details"));
  if (scalars.length) {
    out.append(h("dl", { class: "msg-meta" }, scalars.map(([k, v]) => [h("dt", {}, k.replace(/_/g, " ")), h("dd", {}, cellValue(v, k))])));
  }
  for (const [k, v] of nested) {
    out.append(h(depth ? "h4" : "h3", {}, k.replace(/_/g, " ")));
    if (Array.isArray(v) && v.length && v.every(isObj)) out.append(objectTable(v, [], k));
    else if (Array.isArray(v)) out.append(v.length ? h("ul", {}, v.map((x) => h("li", { class: "break" }, typeof x === "object" ? JSON.stringify(x) : String(x)))) : h("p", { class: "muted" }, "none"));
    else if (depth < 2) out.append(genericDetails(v, depth + 1) || h("p", { class: "muted" }, "—"));
    else out.append(h("code", { class: "small break" }, JSON.stringify(v)));
  }
  return out;
}
