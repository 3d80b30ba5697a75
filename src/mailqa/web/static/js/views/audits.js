// #/audits[?inbox=ID] : start an audit over an inbox, and the list of audits.

import { api } from "../api.js";
import { badge, clear, errorBox, fmtDate, h } from "../dom.js";
import { inboxName, inboxes, loadNav, markNav } from "../nav.js";
import { checkLabel } from "../qa/common.js";
import { isCurrent, main, startView } from "../view.js";

/** @typedef {import("../api.js").Audit} Audit */
/** @template T @typedef {import("../api.js").Answer<T>} Answer */

const AUDIT_CHECKS = ["headers", "html", "hygiene", "accessibility", "merge_tags", "links", "spam", "auth", "blacklist"];
const AUDIT_DEFAULT = ["headers", "html", "hygiene", "accessibility", "merge_tags", "links"];
/** Statuses of an audit that has not finished. */
export const AUDIT_RUNNING = ["queued", "running"];

/** @type {Record<string, string>} */
const AUDIT_BADGES = { done: "passed", failed: "failed", cancelled: "skipped" };

/** @param {Audit} audit */
export function auditBadge(audit) {
  const kind = AUDIT_BADGES[audit.status] || "pending";
  return badge(audit.status, kind, `Audit ${audit.status}`);
}

/** @param {Audit} audit */
export function auditProgress(audit) {
  const total = audit.total ?? 0;
  const pct = total ? Math.round((audit.done / total) * 100) : audit.status === "done" ? 100 : 0;
  return h(
    "div",
    { class: "row" },
    h(
      "div",
      {
        class: "progress",
        role: "progressbar",
        "aria-label": `Audit ${audit.id} progress`,
        "aria-valuemin": "0",
        "aria-valuemax": String(total || 100),
        "aria-valuenow": String(total ? audit.done : pct),
        "aria-valuetext": `${audit.done} of ${total || "?"} messages`,
      },
      h("span", { style: `width:${pct}%` }),
    ),
    h("span", { class: "muted small" }, `${audit.done} / ${audit.total ?? "?"}`),
  );
}

/** @param {URLSearchParams} params */
export async function showAudits(params) {
  startView("audits");
  document.title = "Audits · mailqa";
  await loadNav(); // inboxes created since the page loaded are offered too
  if (!isCurrent("audits")) return;
  markNav("audits");
  const wanted = Number(params.get("inbox")) || (inboxes[0] && inboxes[0].id);
  const select = h(
    "select",
    { id: "audit-inbox-select" },
    inboxes.map((b) => h("option", { value: String(b.id), selected: b.id === wanted }, b.name)),
  );
  const boxes = AUDIT_CHECKS.map((name) =>
    h(
      "label",
      { class: "check-option" },
      h("input", { type: "checkbox", name: "check", value: name, checked: AUDIT_DEFAULT.includes(name) }),
      ` ${checkLabel(name)}`,
    ),
  );
  const online = h("input", { type: "checkbox", id: "audit-online" });
  const status = h("p", { class: "muted small", role: "status" });
  const start = h("button", { type: "submit", id: "audit-start" }, "Start audit");
  const form = h(
    "form",
    { class: "card", id: "audit-form", "aria-labelledby": "audit-form-title" },
    h("h2", { id: "audit-form-title" }, "Audit an inbox"),
    h("p", { class: "muted" }, "Runs the checks over every stored message of the inbox and summarises them."),
    h("p", {}, h("label", { for: "audit-inbox-select" }, "Inbox "), select),
    h("fieldset", {}, h("legend", {}, "Checks"), h("div", { class: "row" }, boxes)),
    h("p", {}, h("label", {}, online, " Let network checks use the network (spam, DNS, link HTTP)")),
    h("div", { class: "row" }, start, status),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const checked = /** @type {NodeListOf<HTMLInputElement>} */ (form.querySelectorAll('input[name="check"]:checked'));
    const checks = [...checked].map((i) => i.value);
    if (!checks.length) {
      status.textContent = "Choose at least one check.";
      return;
    }
    start.disabled = true;
    status.textContent = "Starting…";
    try {
      /** @type {Answer<Audit>} */
      const res = await api("/api/v1/audits", {
        method: "POST",
        body: { inbox_id: Number(select.value), checks, online: online.checked },
      });
      location.hash = `#/audit/${res.data.id}`;
    } catch (err) {
      start.disabled = false;
      status.textContent = "";
      form.append(errorBox(err));
    }
  });
  const list = h("div", { id: "audit-list" }, h("p", { class: "muted" }, "Loading…"));
  main.append(h("h1", {}, "Audits"), inboxes.length ? form : h("p", { class: "muted" }, "No inboxes to audit."), h("h2", {}, "Recent audits"), list);
  try {
    /** @type {Answer<Audit[]>} */
    const answer = await api("/api/v1/audits");
    const audits = answer.data;
    if (!isCurrent("audits")) return;
    clear(list);
    if (!audits.length) {
      list.append(h("p", { class: "muted" }, "No audits yet."));
      return;
    }
    list.append(
      h(
        "table",
        { class: "card", id: "audits-table" },
        h("caption", { class: "sr-only" }, "Audits, newest first"),
        h("thead", {}, h("tr", {}, ["Audit", "Inbox", "Status", "Progress", "Started"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          [...audits]
            .sort((a, b) => b.id - a.id)
            .map((a) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: `#/audit/${a.id}` }, `#${a.id}`)),
                h("td", {}, inboxName(a.inbox_id)),
                h("td", {}, auditBadge(a)),
                h("td", {}, auditProgress(a)),
                h("td", {}, fmtDate(a.created_at)),
              ),
            ),
        ),
      ),
    );
  } catch (err) {
    clear(list).append(errorBox(err));
  }
}
