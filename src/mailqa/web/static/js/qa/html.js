// The HTML check's panel: scores, and the feature × client support matrix.
//
// The html check stores details.clients (the target client ids), details.features (every
// feature used: its worst support by the data, its impact class, the severity of its finding
// or null, and clients: {id: {data, support, reasons, version, notes}} for each target client the data says
// lacks full support, where support is what its readers get once conditional comments, gates
// and fallbacks apply), details.scores ({verdict, verdict_by_client, overall, by_client,
// by_family, by_platform, by_category}) and one finding per feature that loses something:
// its data.clients lists the clients that still lack it ({client, name, support n|a|u,
// data_support, fallbacks}; in older reports also family, platform, version and notes),
// data.covered those a fallback covers. The
// target clients the support data has no entry for are listed by id in
// details.features[].no_data (and a finding's data.no_data): "no data", never supported. A
// target client in neither list supports the feature.
// Older reports: no features[].clients (then the findings' data.clients are the cells, and
// a support there is the data's), no verdict scores, and before that no no_data (there
// data.support_counts shows a gap). Every field is read defensively.

import { badge, h, isObj } from "../dom.js";
import { genericDetails, locatedLines, locationButton, renderFindings } from "./common.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("../api.js").Finding} Finding */
/** @typedef {import("./common.js").PanelContext} PanelContext */

/** @typedef {"y" | "a" | "n" | "u"} Support */
/** @typedef {Support | "none" | "covered"} SupportKey */

/**
 * One target client that the support data says lacks full support of one feature.
 * @typedef {object} Verdict
 * @property {Support} support what its readers get
 * @property {Support | null} data the support data's value (null: not said)
 * @property {string[]} reasons why readers get more than the data says (fallbacks, conditional comments, gates)
 * @property {string} note caniemail's notes
 * @property {string} version
 */

/**
 * A matrix row: one feature.
 * @typedef {object} MatrixRow
 * @property {string} slug
 * @property {string} title
 * @property {Finding | null} finding the finding about it (null: nothing is lost, or a harmless feature)
 * @property {string | null} severity its finding's severity
 * @property {string | null} impact its impact class (null: older reports)
 * @property {string} impactReason
 * @property {Map<string, Verdict>} cells the clients without full support by the data
 * @property {number | null} counted how many clients the support data covers (older reports)
 * @property {Set<string> | null} noData the clients without data (null: the report predates that list)
 * @property {string | null} worst the feature's worst support by the data
 */

/** Symbol, word and class of each support key, in legend order. @type {Record<SupportKey, [string, string, string]>} */
const SUPPORT = {
  y: ["✓", "Supported", "y"],
  covered: ["↺", "Covered", "covered"],
  a: ["◐", "Partial", "a"],
  n: ["✕", "Not supported", "n"],
  u: ["?", "Unknown", "u"],
  none: ["–", "No data", "none"],
};

/** How much a support value lacks: a lower rank is better (as the check ranks them). @type {Record<Support, number>} */
const RANK = { y: 0, a: 1, u: 2, n: 3 };

/** @type {Record<string, number>} */
const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };

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

/** A score to one decimal, as the check rounds it. @param {number} v */
function score1(v) {
  return String(Math.round(v * 10) / 10);
}

/**
 * @param {unknown} v
 * @returns {v is Support}
 */
function isSupport(v) {
  return v === "y" || v === "a" || v === "n" || v === "u";
}

/**
 * The client entries a finding lists.
 * @param {Finding} f
 * @param {string} [key]
 * @returns {unknown[]}
 */
function listedClients(f, key = "clients") {
  return isObj(f.data) && Array.isArray(f.data[key]) ? f.data[key] : [];
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
    for (const c of [...listedClients(f), ...listedClients(f, "covered")]) if (isObj(c) && c.client && c.name) names.set(String(c.client), String(c.name));
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

/** @param {unknown} list */
function strings(list) {
  return Array.isArray(list) ? list.filter((x) => typeof x === "string" && x) : [];
}

/**
 * The cells of one feature: the feature's own verdicts (every client the data says lacks
 * it), completed by its finding's client entries (notes, versions; the only source in older
 * reports, where a client's support is the data's) and covered clients.
 * @param {Record<string, any> | undefined} feature
 * @param {Finding | null} finding
 * @returns {Map<string, Verdict>}
 */
function rowCells(feature, finding) {
  /** @type {Map<string, Verdict>} */
  const cells = new Map();
  if (feature && isObj(feature.clients)) {
    for (const [id, v] of Object.entries(feature.clients)) {
      if (!isObj(v)) continue;
      const support = isSupport(v.support) ? v.support : "u";
      cells.set(id, { support, data: isSupport(v.data) ? v.data : null, reasons: strings(v.reasons), note: strings(v.notes).join(" "), version: v.version ? String(v.version) : "" });
    }
  }
  if (!finding) return cells;
  for (const c of listedClients(finding)) {
    if (!isObj(c) || !c.client) continue;
    const id = String(c.client);
    const known = cells.get(id);
    const support = known ? known.support : isSupport(c.support) && c.support !== "y" ? c.support : "u";
    const data = known && known.data ? known.data : isSupport(c.data_support) ? c.data_support : known ? null : support;
    const reasons = known && known.reasons.length ? known.reasons : strings(c.fallbacks);
    const note = known && known.note ? known.note : strings(c.notes).join(" ");
    const version = known && known.version ? known.version : c.version ? String(c.version) : "";
    cells.set(id, { support, data, reasons, note, version });
  }
  for (const c of listedClients(finding, "covered")) {
    if (!isObj(c) || !c.client || cells.has(String(c.client))) continue;
    cells.set(String(c.client), { support: "y", data: null, reasons: strings([c.reason]), note: "", version: "" });
  }
  return cells;
}

/**
 * One matrix row per feature: the findings in severity order (error, warning, info), then
 * the used features without a finding. Older reports, whose features do not list their
 * clients, get rows without a finding only for the features every client with data supports.
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
  const sorted = [...findings].sort((a, b) => (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3));
  for (const f of sorted) {
    const counts = isObj(f.data) && isObj(f.data.support_counts) ? f.data.support_counts : null;
    const counted = counts ? ["y", "a", "n", "u"].reduce((s, k) => s + (Number(counts[k]) || 0), 0) : null;
    const feature = features.get(String(f.rule));
    const noData = idSet(isObj(f.data) ? f.data.no_data : undefined) || idSet(feature ? feature.no_data : undefined);
    const impact = isObj(f.data) && typeof f.data.impact === "string" ? f.data.impact : feature && typeof feature.impact === "string" ? feature.impact : null;
    const impactReason = isObj(f.data) && typeof f.data.impact_reason === "string" ? f.data.impact_reason : "";
    rows.push({ slug: f.rule, title: f.title || f.rule, finding: f, severity: f.severity || null, impact, impactReason, cells: rowCells(feature, f), counted, noData, worst: null });
    seen.add(f.rule);
  }
  for (const feature of features.values()) {
    if (seen.has(feature.slug)) continue;
    const judged = isObj(feature.clients);
    if (!judged && feature.worst !== "y" && feature.worst !== "none") continue;
    rows.push({
      slug: feature.slug,
      title: feature.title || feature.slug,
      finding: null,
      severity: typeof feature.severity === "string" ? feature.severity : null,
      impact: typeof feature.impact === "string" ? feature.impact : null,
      impactReason: "",
      cells: rowCells(feature, null),
      counted: null,
      noData: idSet(feature.no_data),
      worst: typeof feature.worst === "string" ? feature.worst : null,
    });
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
  /** @type {string[]} */
  let notes = [];
  let version = "";
  let word = "";
  let improved = false;
  const cell = row.cells.get(id);
  if (cell) {
    version = cell.version;
    // Better than the data says: a fallback, a conditional comment or a gate.
    improved = cell.data !== null ? RANK[cell.support] < RANK[cell.data] : cell.support === "y";
    key = improved && cell.support === "y" ? "covered" : cell.support;
    word = SUPPORT[key][1];
    if (improved) word += ` (the support data says ${cell.data ? SUPPORT[cell.data][1].toLowerCase() : "it lacks it"}${version ? `, ${version}` : ""})`;
    else if (version) word += ` (${version})`;
    notes = [...cell.reasons, cell.note].filter(Boolean);
  } else if (row.worst === "none" || (row.noData && row.noData.has(id))) {
    key = "none";
    notes = ["the support data has no entry for this client: not counted in its score"];
  } else {
    key = "y";
    // A report stored before no_data existed: it does not say which clients lack data.
    if (!row.noData && row.counted !== null && row.counted < targets) notes = [`or not in the support data, which covers ${row.counted} of the ${targets} target clients for this feature (re-run the analysis to tell them apart)`];
  }
  const [symbol, fallbackWord, cls] = SUPPORT[key];
  const text = `${row.title} in ${name}: ${word || fallbackWord}${notes.length ? ` — ${notes.join("; ")}` : ""}`;
  const span = h("span", { class: `b-${cls}${improved && key !== "covered" ? " fb" : ""}`, tabindex: "0", role: "img", "aria-label": text, "data-tip": text, "data-support": key }, symbol);
  if (cell && cell.data) span.dataset.data = cell.data;
  span.addEventListener("mouseenter", () => showTip(span));
  span.addEventListener("focus", () => showTip(span));
  span.addEventListener("mouseleave", () => hideTip(span));
  span.addEventListener("blur", () => hideTip(span));
  return h("td", { class: "cell" }, span);
}

/**
 * The row header: the feature, its slug, its impact class and its finding's severity.
 * @param {MatrixRow} row
 */
function featureHeader(row) {
  const tags = [];
  if (row.impact) tags.push(h("span", { class: `impact impact-${row.impact}`, title: row.impactReason || null }, row.impact));
  if (row.severity) tags.push(badge(row.severity, row.severity === "warning" ? "warn" : row.severity));
  else if (row.impact) tags.push(h("span", { class: "muted small" }, "no finding"));
  return h("th", { scope: "row", class: "feature" }, h("div", {}, row.title), h("div", { class: "rule mono muted small" }, row.slug), tags.length ? h("div", { class: "tags" }, tags) : null);
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
  /** @type {Record<string, unknown>} */
  const verdictByClient = isObj(scores.verdict_by_client) ? scores.verdict_by_client : {};
  /** @type {string[]} */
  const targets = Array.isArray(d.clients) ? d.clients.map(String) : Object.keys(byClient);
  const names = htmlClientNames({ ...d, clients: targets }, findings);
  const verdict = typeof scores.verdict === "number" ? scores.verdict : typeof result.score === "number" ? result.score : null;
  // Before the HTML score existed, the check's score was the support percentage.
  const overall = typeof scores.overall === "number" ? scores.overall : typeof scores.verdict !== "number" && typeof result.score === "number" ? result.score : null;

  const summary = h("div", { class: "card", id: "html-scores" });
  if (verdict !== null) {
    const capped = findings.some((f) => f.severity === "error");
    summary.append(
      h(
        "p",
        { id: "html-verdict" },
        "HTML score: ",
        h("strong", {}, score1(verdict)),
        h("span", { class: "muted small" }, ` — what readers get in each target client, weighted by share of opens: a lost layout, content or interactive feature costs most, an enhancement little, harmless features and covered uses nothing${capped ? "; at most 60 with an error finding" : ""}.`),
      ),
    );
  }
  if (overall !== null) {
    summary.append(
      h("p", {}, "Market-weighted support: ", h("strong", {}, `${Math.round(overall)}%`), h("span", { class: "muted small" }, ` over ${targets.length} target client(s)${Array.isArray(d.targets) ? ` (${d.targets.join(", ")})` : ""}, by the support data alone`)),
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
            { "data-feature": row.slug, "data-impact": row.impact, "data-severity": row.severity },
            featureHeader(row),
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
          h("th", { scope: "row" }, "Support %"),
          h("td", {}),
          targets.map((id) => {
            const s = byClient[id];
            return h("td", { "aria-label": `Support in ${names.get(id) || id}: ${pct(s)}` }, typeof s === "number" ? String(Math.round(s)) : "–");
          }),
        ),
        Object.keys(verdictByClient).length
          ? h(
              "tr",
              { class: "verdicts" },
              h("th", { scope: "row" }, "HTML score"),
              h("td", {}),
              targets.map((id) => {
                const s = verdictByClient[id];
                return h("td", { "aria-label": `HTML score in ${names.get(id) || id}: ${typeof s === "number" ? Math.round(s) : "no data"}` }, typeof s === "number" ? String(Math.round(s)) : "–");
              }),
            )
          : null,
      ),
    );
    panel.append(
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Feature × client support"),
        h("div", { class: "legend", "aria-hidden": "true" }, Object.values(SUPPORT).map(([sym, word, cls]) => h("span", {}, h("span", { class: `badge b-${cls}` }, sym), " ", word))),
        // Its own scroll box, so the client row and the feature column stay in view.
        h("div", { class: "matrix-scroll", id: "html-matrix-scroll", tabindex: "0", role: "region", "aria-label": "Feature × client support (scrolls)" }, table),
        h(
          "p",
          { class: "muted small" },
          "Each cell is what the client's readers get. ↺ Covered: the support data says the client lacks the feature, but a fallback, a conditional comment or a gate gives its readers what they need here (a ◐ with a small ↺: better than the data says, but only in part). ? Unknown: the support data says support is unknown. – No data: the support data has no entry for that client. Neither counts as supported. Features without a finding are harmless, or lose nothing. Support %: supported features out of those with data, partial support counting half; the market-weighted support weights clients by their share of opens. HTML score: 100 less what the client's readers lose.",
        ),
      ),
    );
  }
  panel.append(h("div", { class: "card" }, renderFindings(findings, ctx)));
  const rest = { ...d };
  for (const k of ["clients", "features", "scores"]) delete rest[k];
  const g = genericDetails(rest);
  if (g) panel.append(g);
}
