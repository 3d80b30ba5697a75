// #/audit/ID : one audit, polled while it runs, then its summary and its messages.

import { api } from "../api.js";
import { badge, clear, errorBox, h } from "../dom.js";
import { inboxName, markNav } from "../nav.js";
import { checkLabel } from "../qa/common.js";
import { isCurrent, main, onLeave, startView } from "../view.js";
import { AUDIT_RUNNING, auditBadge, auditProgress } from "./audits.js";

/** @typedef {import("../api.js").Audit} Audit */
/** @typedef {import("../api.js").AuditMessages} AuditMessages */
/** @typedef {import("../api.js").HistogramBin} HistogramBin */
/** @typedef {import("../api.js").Ranked} Ranked */
/** @template T @typedef {import("../api.js").Answer<T>} Answer */

/** The ranked lists of the summary: key, heading, and what one item is. */
const AUDIT_LISTS = /** @type {const} */ ([
  ["top_rules", "Most frequent failing rules", "Rule"],
  ["html_unsupported", "HTML/CSS features some target client lacks", "Feature"],
  ["blacklisted", "Blacklisted IPs and domains", "Target"],
  ["auth_failures", "Authentication failures by domain", "Domain"],
  ["broken_link_hosts", "Broken links by host", "Host"],
]);

/** @param {number} id */
export async function showAudit(id) {
  startView("audit", id);
  markNav("audits");
  document.title = `Audit #${id} · mailqa`;
  const head = h("div", { class: "inbox-head" });
  const progress = h("div", { id: "audit-progress", "aria-live": "polite" });
  const body = h("div", { id: "audit-summary" });
  main.append(h("p", { class: "small" }, h("a", { href: "#/audits" }, "← All audits")), head, progress, body);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  onLeave(() => clearTimeout(timer));
  const poll = async () => {
    /** @type {Audit} */
    let audit;
    try {
      /** @type {Answer<Audit>} */
      const answer = await api(`/api/v1/audits/${id}`);
      audit = answer.data;
    } catch (err) {
      if (isCurrent("audit", id)) clear(body).append(errorBox(err));
      return;
    }
    if (!isCurrent("audit", id)) return;
    clear(head).append(
      h("div", {}, h("h1", {}, `Audit #${audit.id}`), h("span", { class: "muted" }, `${inboxName(audit.inbox_id)} · ${audit.checks.map(checkLabel).join(", ")}`)),
      h("span", { class: "spacer" }),
      auditBadge(audit),
      h(
        "span",
        { class: "row", id: "audit-exports" },
        ["csv", "json", "html"].map((fmt) =>
          h("a", { class: "button", href: `/api/v1/audits/${audit.id}/export?format=${fmt}`, download: fmt === "html" ? null : `mailqa-audit-${audit.id}.${fmt}` }, `Export ${fmt.toUpperCase()}`),
        ),
      ),
    );
    clear(progress).append(auditProgress(audit));
    if (audit.error) progress.append(h("p", { class: "alert", role: "alert" }, audit.error));
    renderAuditSummary(body, audit);
    if (AUDIT_RUNNING.includes(audit.status)) timer = setTimeout(poll, 1000);
    else await renderAuditMessages(body, audit);
  };
  await poll();
}

/**
 * The score histogram as an SVG bar chart; its label and bar titles carry the counts.
 * @param {HistogramBin[]} bins
 */
function histogram(bins) {
  const max = Math.max(1, ...bins.map((b) => b.messages));
  const width = 320;
  const height = 120;
  const barW = width / bins.length;
  const label = bins.map((b) => `${b.from}–${b.to}: ${b.messages}`).join(", ");
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 18}`);
  svg.setAttribute("class", "histogram");
  svg.setAttribute("role", "img");
  svg.setAttribute("id", "audit-histogram");
  svg.setAttribute("aria-label", `Score histogram. ${label}`);
  bins.forEach((b, i) => {
    const barH = Math.round((b.messages / max) * height);
    const rect = document.createElementNS(svgNS, "rect");
    rect.setAttribute("x", String(i * barW + 2));
    rect.setAttribute("y", String(height - barH));
    rect.setAttribute("width", String(barW - 4));
    rect.setAttribute("height", String(barH));
    rect.setAttribute("data-messages", String(b.messages));
    const title = document.createElementNS(svgNS, "title");
    title.textContent = `score ${b.from}–${b.to}: ${b.messages} message(s)`;
    rect.append(title);
    const text = document.createElementNS(svgNS, "text");
    text.setAttribute("x", String(i * barW + barW / 2));
    text.setAttribute("y", String(height + 14));
    text.setAttribute("text-anchor", "middle");
    text.textContent = String(b.from);
    svg.append(rect, text);
  });
  return svg;
}

/**
 * @param {Ranked[]} items
 * @param {string} noun what one item is
 */
function rankedBars(items, noun) {
  const max = Math.max(1, ...items.map((i) => i.messages));
  return h(
    "div",
    { class: "bars", role: "list" },
    items.map((item) =>
      h(
        "div",
        { class: "bar", role: "listitem", "aria-label": `${noun} ${item.name}: ${item.messages} message(s)` },
        h("span", { class: "break" }, item.name),
        h("span", { class: "track", "aria-hidden": "true" }, h("span", { style: `width:${(item.messages / max) * 100}%` })),
        h("span", { class: "muted" }, String(item.messages)),
      ),
    ),
  );
}

/**
 * @param {HTMLElement} body
 * @param {Audit} audit
 */
function renderAuditSummary(body, audit) {
  const s = audit.summary;
  clear(body);
  if (!s || !s.messages) {
    body.append(h("p", { class: "muted" }, AUDIT_RUNNING.includes(audit.status) ? "Waiting for the first results…" : "No messages were audited."));
    return;
  }
  /** @type {Partial<import("../api.js").AuditScore>} */
  const score = s.score || {};
  body.append(
    h(
      "div",
      { class: "qa-summary" },
      h("div", { class: "qa-card" }, h("span", { class: "name" }, "Messages"), h("span", { class: "score-big", id: "audit-messages" }, String(s.messages))),
      h("div", { class: "qa-card" }, h("span", { class: "name" }, "Mean score"), h("span", { class: "score-big" }, score.mean ?? "—"), h("span", { class: "muted small" }, `min ${score.min ?? "—"} · max ${score.max ?? "—"}`)),
      Object.entries(s.statuses || {}).map(([status, n]) =>
        h("div", { class: "qa-card" }, h("span", { class: "name" }, status), h("span", { class: "score-big" }, String(n))),
      ),
    ),
  );
  const statuses = ["passed", "warning", "failed", "errored", "skipped"];
  body.append(
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Per check"),
      h(
        "table",
        { id: "audit-checks" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Check"), statuses.map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          Object.entries(s.checks || {}).map(([name, counts]) =>
            h("tr", {}, h("th", { scope: "row" }, checkLabel(name)), statuses.map((t) => h("td", {}, String(counts[t] || 0)))),
          ),
        ),
      ),
    ),
    h("div", { class: "card" }, h("h2", {}, "Score distribution"), score.histogram ? histogram(score.histogram) : h("p", { class: "muted" }, "No scores.")),
  );
  for (const [key, title, noun] of AUDIT_LISTS) {
    const items = s[key] || [];
    if (!items.length) continue;
    body.append(h("div", { class: "card", id: `audit-${key}` }, h("h2", {}, title), rankedBars(items, noun)));
  }
}

/**
 * @param {HTMLElement} body
 * @param {Audit} audit
 */
async function renderAuditMessages(body, audit) {
  /** @type {AuditMessages} */
  let page;
  try {
    /** @type {Answer<AuditMessages>} */
    const answer = await api(`/api/v1/audits/${audit.id}/messages?per_page=100`);
    page = answer.data;
  } catch (err) {
    body.append(errorBox(err));
    return;
  }
  if (!isCurrent("audit", audit.id)) return;
  body.append(
    h(
      "div",
      { class: "card" },
      h("h2", {}, `Messages (${page.total})`),
      h(
        "table",
        { id: "audit-messages-table" },
        h("thead", {}, h("tr", {}, ["Message", "Status", "Score", "Failing rules"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          page.messages.map((m) =>
            h(
              "tr",
              {},
              h("td", {}, m.message_id ? h("a", { href: `#/message/${m.message_id}/overview` }, m.subject || "(no subject)") : m.key),
              h("td", {}, badge(m.status, m.status === "unreadable" ? "failed" : m.status)),
              h("td", {}, m.score === null || m.score === undefined ? "—" : String(m.score)),
              h("td", { class: "small" }, (m.rules || []).slice(0, 5).join(", ")),
            ),
          ),
        ),
      ),
      page.total > page.messages.length ? h("p", { class: "muted small" }, `First ${page.messages.length}; the CSV export has all of them.`) : null,
    ),
  );
}
