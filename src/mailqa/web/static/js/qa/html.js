// The HTML check's panel: scores, and the feature × client support matrix.
//
// The html check stores details.clients (the target client ids), details.features (every
// feature used, with its worst support), details.scores ({overall, by_client, by_family,
// by_platform, by_category}) and one finding per feature some target client lacks: its
// data.clients lists those clients only ({client, name, family, platform, support n|a|u,
// version, notes}). The target clients the support data has no entry for are listed by id
// in details.features[].no_data (and a finding's data.no_data): "no data", never supported.
// A target client in neither list supports the feature. Reports stored before no_data
// existed do not say which clients have no data; there data.support_counts shows a gap.
// Every field is read defensively: older reports lack some.

import { h, isObj } from "../dom.js";
import { genericDetails, locatedLines, locationButton, renderFindings } from "./common.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("../api.js").Finding} Finding */
/** @typedef {import("./common.js").PanelContext} PanelContext */

/** @typedef {"y" | "a" | "n" | "u" | "none"} SupportKey */

/**
 * One target client's support of one feature, as a finding lists it.
 * @typedef {object} Affected
 * @property {SupportKey} support
 * @property {string} note
 * @property {string} version
 */

/**
 * A matrix row: one feature.
 * @typedef {object} MatrixRow
 * @property {string} slug
 * @property {string} title
 * @property {Finding | null} finding the finding about it (null: every client with data supports it)
 * @property {Map<string, Affected>} affected the clients without full support
 * @property {number | null} covered how many clients the support data covers (older reports)
 * @property {Set<string> | null} noData the clients without data (null: the report predates that list)
 * @property {string | null} worst the feature's worst support, for rows without a finding
 */

/** Symbol, word and class of each support key. @type {Record<SupportKey, [string, string, string]>} */
const SUPPORT = {
  y: ["✓", "Supported", "y"],
  a: ["◐", "Partial", "a"],
  n: ["✕", "Not supported", "n"],
  u: ["?", "Unknown", "u"],
  none: ["–", "No data", "none"],
};

/** Platform labels of rules/clients.yaml, for clients the report names nowhere. @type {Record<string, string>} */
const PLATFORM_NAMES = {
  ios: "iOS",
  android: "Android",
  macos: "macOS",
  windows: "Windows",
  "windows-mail": "Windows Mail",
  "outlook-com": "Outlook.com",
  "desktop-webmail": "Webmail",
  "mobile-webmail": "Mobile webmail",
};

/** @param {unknown} v */
function pct(v) {
  return typeof v === "number" && Number.isFinite(v) ? `${Math.round(v)}%` : "no data";
}

/**
 * The client entries a finding lists.
 * @param {Finding} f
 * @returns {unknown[]}
 */
function listedClients(f) {
  return isObj(f.data) && Array.isArray(f.data.clients) ? f.data.clients : [];
}

/**
 * Client id → display name: from the findings' client entries, else family + platform.
 * @param {Record<string, any>} details
 * @param {Finding[]} findings
 */
function htmlClientNames(details, findings) {
  /** @type {Map<string, string>} */
  const names = new Map();
  for (const f of findings) {
    for (const c of listedClients(f)) if (isObj(c) && c.client && c.name) names.set(String(c.client), String(c.name));
  }
  const families = isObj(details.scores) && isObj(details.scores.by_family) ? details.scores.by_family : {};
  for (const id of Array.isArray(details.clients) ? details.clients : []) {
    if (names.has(id)) continue;
    const [family, platform = ""] = String(id).split(".", 2);
    const famName = isObj(families[family]) && families[family].name ? String(families[family].name) : family;
    names.set(id, platform ? `${famName} (${PLATFORM_NAMES[platform] || platform})` : famName);
  }
  return names;
}

/**
 * Client ids without data from a report list, or null when the report has no such list.
 * @param {unknown} list
 */
function idSet(list) {
  return Array.isArray(list) ? new Set(list.map(String)) : null;
}

/**
 * One matrix row per feature: the findings (their affected clients), then the features
 * every target client with data supports. Each row knows the clients without data
 * (noData: null when the report predates that list).
 * @param {Record<string, any>} details
 * @param {Finding[]} findings
 * @returns {MatrixRow[]}
 */
function htmlRows(details, findings) {
  /** @type {MatrixRow[]} */
  const rows = [];
  const seen = new Set();
  /** @type {Map<string, Record<string, any>>} */
  const features = new Map();
  for (const feature of Array.isArray(details.features) ? details.features : []) {
    if (isObj(feature) && feature.slug) features.set(String(feature.slug), feature);
  }
  for (const f of findings) {
    /** @type {Map<string, Affected>} */
    const affected = new Map();
    for (const c of listedClients(f)) {
      if (!isObj(c) || !c.client) continue;
      const support = ["n", "a", "u"].includes(c.support) ? c.support : "u";
      const notes = Array.isArray(c.notes) ? c.notes.join(" ") : "";
      affected.set(String(c.client), { support, note: notes, version: c.version ? String(c.version) : "" });
    }
    const counts = isObj(f.data) && isObj(f.data.support_counts) ? f.data.support_counts : null;
    const covered = counts ? ["y", "a", "n", "u"].reduce((s, k) => s + (Number(counts[k]) || 0), 0) : null;
    const feature = features.get(String(f.rule));
    const noData = idSet(isObj(f.data) ? f.data.no_data : undefined) || idSet(feature ? feature.no_data : undefined);
    rows.push({ slug: f.rule, title: f.title || f.rule, finding: f, affected, covered, noData, worst: null });
    seen.add(f.rule);
  }
  for (const feature of features.values()) {
    if (seen.has(feature.slug)) continue;
    if (feature.worst !== "y" && feature.worst !== "none") continue;
    rows.push({ slug: feature.slug, title: feature.title || feature.slug, finding: null, affected: new Map(), covered: null, noData: idSet(feature.no_data), worst: feature.worst });
  }
  return rows;
}

// One tooltip for every matrix cell: its note, on hover and on keyboard focus.
const tip = h("div", { class: "tip", role: "tooltip", id: "matrix-tip", hidden: true });
document.body.append(tip);

/** @param {HTMLElement} el */
function showTip(el) {
  tip.textContent = el.dataset.tip || "";
  tip.hidden = false;
  const r = el.getBoundingClientRect();
  tip.style.left = `${Math.min(r.left, innerWidth - 330)}px`;
  tip.style.top = `${r.bottom + 6}px`;
  el.setAttribute("aria-describedby", "matrix-tip");
}

/** @param {HTMLElement} el */
function hideTip(el) {
  tip.hidden = true;
  el.removeAttribute("aria-describedby");
}

/**
 * @param {MatrixRow} row
 * @param {string} id the client
 * @param {string} name its display name
 * @param {number} targets how many target clients there are
 */
function supportCell(row, id, name, targets) {
  /** @type {SupportKey} */
  let key;
  let note = "";
  let version = "";
  const affected = row.affected.get(id);
  if (affected) ({ support: key, note, version } = affected);
  else if (row.worst === "none" || (row.noData && row.noData.has(id))) {
    key = "none";
    note = "the support data has no entry for this client: not counted in its score";
  } else {
    key = "y";
    // A report stored before no_data existed: it does not say which clients lack data.
    if (!row.noData && row.covered !== null && row.covered < targets) note = `or not in the support data, which covers ${row.covered} of the ${targets} target clients for this feature (re-run the analysis to tell them apart)`;
  }
  const [symbol, word, cls] = SUPPORT[key];
  const text = `${row.title} in ${name}: ${word}${version ? ` (${version})` : ""}${note ? ` — ${note}` : ""}`;
  const span = h("span", { class: `b-${cls}`, tabindex: "0", role: "img", "aria-label": text, "data-tip": text, "data-support": key }, symbol);
  span.addEventListener("mouseenter", () => showTip(span));
  span.addEventListener("focus", () => showTip(span));
  span.addEventListener("mouseleave", () => hideTip(span));
  span.addEventListener("blur", () => hideTip(span));
  return h("td", { class: "cell" }, span);
}

/**
 * @param {[string, unknown][]} entries name and score (a percentage)
 * @param {string} label
 */
function scoreBars(entries, label) {
  return h(
    "div",
    { class: "bars", role: "list", "aria-label": label },
    entries.map(([name, s]) => {
      const known = typeof s === "number" && Number.isFinite(s);
      const width = known ? Math.max(0, Math.min(100, s)) : 0;
      return h(
        "div",
        { class: "bar", role: "listitem", "aria-label": `${name}: ${pct(s)}` },
        h("span", { class: "break" }, name),
        h("span", { class: "track", "aria-hidden": "true" }, h("span", { style: `width:${width}%` })),
        h("span", { class: "num" }, pct(s)),
      );
    }),
  );
}

/**
 * @param {HTMLElement} panel
 * @param {CheckResult} result
 * @param {PanelContext} ctx
 */
export function renderHtmlCheck(panel, result, ctx) {
  /** @type {Record<string, any>} */
  const d = isObj(result.details) ? result.details : {};
  const findings = result.findings || [];
  const scores = isObj(d.scores) ? d.scores : {};
  /** @type {Record<string, unknown>} */
  const byClient = isObj(scores.by_client) ? scores.by_client : {};
  /** @type {string[]} */
  const targets = Array.isArray(d.clients) ? d.clients.map(String) : Object.keys(byClient);
  const names = htmlClientNames({ ...d, clients: targets }, findings);
  const overall = typeof scores.overall === "number" ? scores.overall : typeof result.score === "number" ? result.score : null;

  const summary = h("div", { class: "card", id: "html-scores" });
  if (overall !== null) {
    summary.append(
      h("p", {}, "Market-weighted support: ", h("strong", {}, `${Math.round(overall)}%`), h("span", { class: "muted small" }, ` over ${targets.length} target client(s)${Array.isArray(d.targets) ? ` (${d.targets.join(", ")})` : ""}`)),
    );
  }
  const categories = isObj(scores.by_category) ? Object.entries(scores.by_category) : [];
  if (categories.length) summary.append(h("p", { class: "small" }, categories.map(([c, s], i) => [i ? " · " : "", h("span", { class: "cap" }, c), ` ${pct(s)}`])));
  const families = isObj(scores.by_family) ? Object.entries(scores.by_family).filter(([, f]) => isObj(f)) : [];
  if (families.length) {
    summary.append(h("h3", {}, "Support per client family"), scoreBars(families.map(([id, f]) => [f.name || id, f.score]), "Support per client family"));
  }
  /** @type {[string, unknown][]} */
  const perClient = targets.filter((id) => id in byClient).map((id) => [names.get(id) || id, byClient[id]]);
  if (perClient.length) {
    summary.append(
      h(
        "details",
        { id: "client-scores" },
        h("summary", {}, `Support per client (${perClient.length})`),
        scoreBars(perClient.sort((a, b) => /** @type {number} */ (a[1] ?? 101) - /** @type {number} */ (b[1] ?? 101)), "Support per client"),
      ),
    );
  }
  if (summary.childNodes.length) panel.append(summary);

  const rows = htmlRows(d, findings);
  if (rows.length && targets.length) {
    const table = h(
      "table",
      { class: "matrix", id: "html-matrix" },
      h("caption", { class: "visually-hidden" }, "Feature support per target email client"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { class: "feature", scope: "col" }, "Feature"),
          h("th", { scope: "col" }, "Lines"),
          targets.map((id) => h("th", { class: "client", scope: "col", title: id, "data-client": id }, names.get(id) || id)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            { "data-feature": row.slug },
            h("th", { scope: "row", class: "feature" }, h("div", {}, row.title), h("div", { class: "rule mono muted small" }, row.slug)),
            h(
              "td",
              {},
              row.finding
                ? locatedLines(row.finding.locations)
                    .slice(0, 4)
                    .map((l) => locationButton(l, ctx))
                : null,
            ),
            targets.map((id) => supportCell(row, id, names.get(id) || id, targets.length)),
          ),
        ),
        h(
          "tr",
          { class: "scores" },
          h("th", { scope: "row" }, "Client score"),
          h("td", {}),
          targets.map((id) => {
            const s = byClient[id];
            return h("td", { "aria-label": `${names.get(id) || id}: ${pct(s)}` }, typeof s === "number" ? String(Math.round(s)) : "–");
          }),
        ),
      ),
    );
    panel.append(
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Feature × client support"),
        h("div", { class: "legend", "aria-hidden": "true" }, Object.values(SUPPORT).map(([sym, word, cls]) => h("span", {}, h("span", { class: `badge b-${cls}` }, sym), " ", word))),
        h("div", { class: "table-wrap" }, table),
        h("p", { class: "muted small" }, "? Unknown: the support data says support is unknown. – No data: the support data has no entry for that client. Neither counts as supported. Scores: supported features out of those with data, partial support counting half; the overall score weights clients by their share of opens."),
      ),
    );
  }
  panel.append(h("div", { class: "card" }, renderFindings(findings, ctx)));
  const rest = { ...d };
  for (const k of ["clients", "features", "scores"]) delete rest[k];
  const g = genericDetails(rest);
  if (g) panel.append(g);
}
