// #/message/ID[/TAB[/ANCHOR]] : one message, its source views and a tab per check of its
// report. Tabs follow the ARIA tab pattern; each tab's panel is drawn once, when first shown.

import { ApiFailure, api, fetchRaw } from "../api.js";
import { append, badge, byId, clear, confirmDialog, errorBox, fmtDate, fmtSize, h, scoreKind, timeEl, toast } from "../dom.js";
import { markNav } from "../nav.js";
import { checkLabel, orderChecks, sourceExpiredAt } from "../qa/common.js";
import { renderCheck, renderOverview } from "../qa/panels.js";
import { isCurrent, main, parseRoute, startView } from "../view.js";
import { renderPreviews } from "./previews.js";

/** @typedef {import("../api.js").MessageDetail} MessageDetail */
/** @typedef {import("../api.js").Report} Report */
/** @typedef {import("../qa/common.js").ReportState} ReportState */
/** @typedef {import("../qa/common.js").PanelContext} PanelContext */
/** @template T @typedef {import("../api.js").Answer<T>} Answer */

/**
 * @typedef {object} Tab
 * @property {string} key
 * @property {string} label
 * @property {string} [status] the check's status, shown as a dot
 */

/**
 * A row of the tab bar: the message's own views, or its QA report.
 * @typedef {object} TabGroup
 * @property {string} key
 * @property {string} label
 * @property {Tab[]} tabs
 */

const MESSAGE_TABS = [
  ["preview", "Preview"],
  ["text", "Text"],
  ["source", "HTML source"],
  ["raw", "Raw"],
  ["headers-list", "Headers"],
  ["attachments", "Attachments"],
  ["previews", "Previews"],
];

/** What a source view shows, named for the note when retention dropped the source. @type {Record<string, string>} */
const SOURCE_PANES = {
  preview: "The body",
  text: "The text part",
  source: "The HTML source",
  raw: "The raw source",
  "headers-list": "The headers",
};

/** What the preview says about remote images, before and after loading them. */
const REMOTE_IMAGES_NOTE = {
  blocked: "Remote images are blocked until you load them; scripts never run.",
  loaded: "Remote images are loaded: their servers can see this preview was opened. Scripts never run.",
};

const RERUN_NEEDS_SOURCE = "Re-running the analysis needs the source.";

/**
 * The message shown (its detail once loaded), its report and the selected tab.
 * @type {{ id: number, detail: MessageDetail | null, report: ReportState, tab: string | null }}
 */
let shown = { id: 0, detail: null, report: null, tab: null };

/** The loaded message (the views below run only once it is). */
function detail() {
  if (shown.detail === null) throw new Error("the message is not loaded");
  return shown.detail;
}

/** @returns {PanelContext} */
function panelContext() {
  return { detail: detail(), report: shown.report, openTab: navigateTab };
}

/**
 * Show message id on this tab, or only switch tabs when it is already shown.
 * @param {number} id
 * @param {string} tab
 * @param {string} [anchor]
 */
export async function showMessage(id, tab, anchor) {
  if (isCurrent("message", id)) {
    selectTab(tab, anchor);
    return;
  }
  startView("message", id);
  shown = { id, detail: null, report: null, tab: null };
  markNav(null);
  main.append(h("p", { class: "muted" }, "Loading…"));
  /** @type {MessageDetail} */
  let loaded;
  try {
    /** @type {Answer<MessageDetail>} */
    const answer = await api(`/api/v1/messages/${id}`);
    loaded = answer.data;
  } catch (err) {
    clear(main).append(errorBox(err), h("p", {}, h("a", { href: "#/" }, "Back to inboxes")));
    return;
  }
  if (!isCurrent("message", id)) return;
  shown.detail = loaded;
  markNav(loaded.inbox_id);
  document.title = `${loaded.subject || "(no subject)"} · mailqa`;
  if (!loaded.is_read) api(`/api/v1/messages/${id}`, { method: "PATCH", body: { is_read: true } }).catch(() => {});
  renderMessageFrame();
  await loadReport();
  if (!isCurrent("message", id)) return; // navigated away meanwhile
  // The hash may have moved to another tab of this message while the report loaded.
  const now = parseRoute().parts;
  if (now[0] === "message" && Number(now[1]) === id) selectTab(now[2] || "preview", now[3]);
  else selectTab(tab, anchor);
}

async function loadReport() {
  const id = shown.id;
  for (let attempt = 0; attempt < 120; attempt++) {
    /** @type {Answer<Report>} */
    let res;
    try {
      res = await api(`/api/v1/messages/${id}/report`);
    } catch (err) {
      if (!isCurrent("message", id)) return;
      shown.report = { error: err instanceof Error ? err.message : String(err) };
      break;
    }
    if (!isCurrent("message", id)) return;
    if (res.status === 200) {
      shown.report = res.data;
      break;
    }
    shown.report = null; // 202: still running
    renderTabs();
    await new Promise((r) => setTimeout(r, 500));
    if (!isCurrent("message", id)) return;
  }
  if (!isCurrent("message", id)) return;
  renderTabs();
  renderReportBadge();
}

function renderReportBadge() {
  const slot = document.getElementById("report-badge");
  if (!slot) return;
  clear(slot);
  const r = shown.report;
  if (!r) slot.append(badge("analysing…", "pending"));
  else if ("error" in r) slot.append(badge("report unavailable", "errored"));
  else {
    slot.append(badge(r.status, r.status, `Overall status ${r.status}`));
    if (typeof r.score === "number") slot.append(" ", badge(`score ${Math.round(r.score)}`, scoreKind(r.score), `Overall score ${r.score}`));
  }
}

function renderMessageFrame() {
  const d = detail();
  const expired = sourceExpiredAt(d);
  const rerun = expired
    ? h("button", { type: "button", id: "rerun", class: "unavailable", disabled: true, title: RERUN_NEEDS_SOURCE, "aria-describedby": "rerun-reason" }, "↻ Re-run analysis")
    : h("button", { type: "button", id: "rerun", onclick: rerunAnalysis }, "↻ Re-run analysis");
  append(clear(main), [
    h("p", { class: "small" }, h("a", { href: `#/inbox/${d.inbox_id}` }, "← Back to inbox")),
    h(
      "div",
      { class: "msg-head" },
      h("h1", { id: "msg-subject" }, d.subject || "(no subject)"),
      h("span", { id: "report-badge", class: "row" }),
      h(
        "span",
        { class: "row" },
        rerun,
        expired ? null : h("a", { class: "button", href: `/api/v1/messages/${d.id}/raw`, download: `message-${d.id}.eml` }, "Download .eml"),
        h("button", { type: "button", class: "danger", id: "delete", onclick: deleteMessage }, "Delete"),
      ),
    ),
    h(
      "dl",
      { class: "msg-meta" },
      metaRow("From", d.from || d.from_address),
      metaRow("To", d.to),
      d.cc ? metaRow("Cc", d.cc) : null,
      metaRow("Received", fmtDate(d.created_at)),
      metaRow("Size", fmtSize(d.size)),
      d.envelope && d.envelope.mail_from ? metaRow("Envelope", `${d.envelope.mail_from} → ${(d.envelope.rcpt_to || []).join(", ")}`) : null,
      d.envelope && d.envelope.client_ip ? metaRow("Client", `${d.envelope.client_ip}${d.envelope.helo ? ` (HELO ${d.envelope.helo})` : ""}`) : null,
    ),
    expired
      ? h(
          "div",
          { class: "notice expired", id: "source-expired" },
          h(
            "p",
            {},
            "The source of this message was cleaned up by retention on ",
            timeEl(expired),
            ": the QA report stays; the body, headers, raw source and attachments are no longer available.",
          ),
          h("p", { id: "rerun-reason" }, RERUN_NEEDS_SOURCE),
        )
      : null,
    h("div", { class: "tabs", role: "tablist", "aria-label": "Message views and QA reports", id: "tabs" }),
    h("div", { id: "panels" }),
  ]);
  renderReportBadge();
  renderTabs();
}

/**
 * @param {string} label
 * @param {string | null | undefined} value
 */
function metaRow(label, value) {
  return [h("dt", {}, label), h("dd", {}, value || "—")];
}

/** @returns {TabGroup[]} */
function tabGroups() {
  /** @type {Tab[]} */
  const views = MESSAGE_TABS.map(([key, label]) => ({ key, label }));
  /** @type {Tab[]} */
  const qa = [{ key: "overview", label: "Overview" }];
  const r = shown.report;
  if (r && !("error" in r) && r.checks) {
    for (const name of orderChecks(Object.keys(r.checks))) {
      qa.push({ key: `qa-${name}`, label: checkLabel(name), status: r.checks[name].status });
    }
  }
  return [
    { key: "message", label: "Message", tabs: views },
    { key: "qa", label: "QA report", tabs: qa },
  ];
}

function renderTabs() {
  const bar = document.getElementById("tabs");
  if (!bar) return;
  const selected = shown.tab;
  // Rebuilding the bar (the report arrived, a re-run) must not drop keyboard focus.
  const active = document.activeElement;
  const focusedTab = active instanceof HTMLElement && bar.contains(active) ? active.dataset.tab : null;
  clear(bar);
  for (const group of tabGroups()) {
    // One tab list in two labelled rows: the rows are layout only, every tab is in the list.
    bar.append(
      h(
        "div",
        { class: "tab-group", role: "presentation", "data-group": group.key },
        h("span", { class: "tab-group-label", "aria-hidden": "true" }, group.label),
        h(
          "div",
          { class: "tab-row", role: "presentation" },
          group.tabs.map((t) => tabButton(t, selected)),
        ),
      ),
    );
  }
  clear(byId("panels"));
  if (selected) selectTab(selected, undefined, true);
  const refocus = focusedTab && document.getElementById(`tab-${focusedTab}`);
  if (refocus) refocus.focus();
}

/**
 * @param {Tab} t
 * @param {string | null} selected the selected tab's key
 */
function tabButton(t, selected) {
  const label = t.key === "attachments" ? `${t.label} (${detail().attachments.length})` : t.label;
  return h(
    "button",
    {
      type: "button",
      role: "tab",
      id: `tab-${t.key}`,
      "aria-controls": `panel-${t.key}`,
      "aria-selected": String(t.key === selected),
      tabindex: t.key === selected ? "0" : "-1",
      "data-tab": t.key,
      onclick: () => navigateTab(t.key),
    },
    label,
    t.status ? h("span", { class: `tab-status s-${t.status}`, "aria-label": `(${t.status})`, role: "img" }) : null,
  );
}

/** ←/→, Home and End move between the tabs of a tab list (and select the tab moved to). */
export function installTabKeys() {
  document.addEventListener("keydown", (ev) => {
    const target = ev.target;
    const tab = target instanceof Element ? target.closest('[role="tab"]') : null;
    const list = tab ? tab.closest('[role="tablist"]') : null;
    if (!(tab instanceof HTMLElement) || !list) return;
    const tabs = /** @type {HTMLElement[]} */ ([...list.querySelectorAll('[role="tab"]')]);
    let i = tabs.indexOf(tab);
    if (ev.key === "ArrowRight") i = (i + 1) % tabs.length;
    else if (ev.key === "ArrowLeft") i = (i - 1 + tabs.length) % tabs.length;
    else if (ev.key === "Home") i = 0;
    else if (ev.key === "End") i = tabs.length - 1;
    else return;
    ev.preventDefault();
    tabs[i].focus();
    navigateTab(tabs[i].dataset.tab || "");
  });
}

/**
 * Go to a tab of the message shown (through its address, so back works).
 * @param {string} key
 * @param {string} [anchor] e.g. L12: a line of the HTML source
 */
function navigateTab(key, anchor) {
  const target = `#/message/${shown.id}/${key}${anchor ? `/${anchor}` : ""}`;
  if (location.hash === target) selectTab(key, anchor);
  else location.hash = target;
}

/**
 * @param {string} key
 * @param {string} [anchor]
 * @param {boolean} [force] draw the panel again
 */
function selectTab(key, anchor, force) {
  const bar = document.getElementById("tabs");
  if (!bar) return;
  let button = document.getElementById(`tab-${key}`);
  if (!button) {
    if (key.startsWith("qa-") && !shown.report) key = "overview";
    button = document.getElementById(`tab-${key}`) || byId("tab-preview");
    key = button.dataset.tab || key;
  }
  const refocus = bar.contains(document.activeElement);
  for (const b of bar.querySelectorAll('[role="tab"]')) {
    const on = b === button;
    b.setAttribute("aria-selected", String(on));
    b.setAttribute("tabindex", on ? "0" : "-1");
  }
  if (refocus) button.focus();
  const changed = shown.tab !== null && shown.tab !== key;
  shown.tab = key;
  const panels = byId("panels");
  let panel = document.getElementById(`panel-${key}`);
  if (!panel || force) {
    if (panel) panel.remove();
    panel = h("section", { role: "tabpanel", id: `panel-${key}`, "aria-labelledby": `tab-${key}`, tabindex: "-1" });
    panels.append(panel);
    renderPanel(key, panel);
  }
  for (const p of panels.children) if (p instanceof HTMLElement) p.hidden = p !== panel;
  if (key === "source") highlightLine(anchor);
  if (changed && !(key === "source" && anchor)) showFromTop(panel);
}

/**
 * A tab opened shows its panel from the start, not at the scroll position of the tab before:
 * the page goes back up to where the panels begin (when it was further down) and the
 * panel's own scroll boxes back to their start.
 * @param {HTMLElement} panel
 */
function showFromTop(panel) {
  for (const box of panel.querySelectorAll("pre, .source, .table-wrap, .matrix-scroll")) {
    box.scrollTop = 0;
    box.scrollLeft = 0;
  }
  const bar = byId("tabs");
  const stuckAt = parseFloat(getComputedStyle(bar).top) || 0; // where the sticky bar stops
  const barBlock = bar.offsetHeight + (parseFloat(getComputedStyle(bar).marginBottom) || 0);
  const panelsTop = byId("panels").getBoundingClientRect().top + window.scrollY;
  const start = Math.max(0, panelsTop - barBlock - stuckAt);
  if (window.scrollY > start) window.scrollTo({ top: start, behavior: "instant" });
}

/**
 * What a message view shows once retention dropped the source: a note, never a fetch.
 * (The date is unknown when the source went while the view was open: a 410 told us.)
 * @param {HTMLElement} panel
 * @param {string} what
 */
function sourceGone(panel, what) {
  const when = sourceExpiredAt(shown.detail);
  panel.append(
    h(
      "div",
      { class: "gone" },
      h("p", {}, `${what} of this message is no longer available: retention cleaned up its source`, when ? [" on ", timeEl(when)] : null, "."),
      h("button", { type: "button", onclick: () => navigateTab("overview") }, "Open the QA overview"),
    ),
  );
}

/**
 * @param {string} key
 * @param {HTMLElement} panel
 */
function renderPanel(key, panel) {
  const d = detail();
  try {
    if (sourceExpiredAt(d) && SOURCE_PANES[key]) {
      sourceGone(panel, SOURCE_PANES[key]);
      if (key === "headers-list" && d.parse_defects && d.parse_defects.length) renderDefects(panel, d);
      return;
    }
    if (key === "preview") return renderPreview(panel, d);
    if (key === "previews") return void renderPreviews(panel, shown.id);
    if (key === "text") return panel.append(d.text_body === null ? h("p", { class: "muted" }, "This message has no text part.") : h("pre", { class: "text-body", id: "text-body" }, d.text_body));
    if (key === "source") return renderSource(panel, d);
    if (key === "raw") return void renderRaw(panel, d);
    if (key === "headers-list") return renderHeaders(panel, d);
    if (key === "attachments") return renderAttachments(panel, d);
    if (key === "overview") return renderOverview(panel, panelContext());
    if (key.startsWith("qa-")) return renderCheck(panel, key.slice(3), panelContext());
  } catch (err) {
    panel.append(errorBox(err));
  }
}

/**
 * @param {HTMLElement} panel
 * @param {MessageDetail} d
 */
function renderPreview(panel, d) {
  if (!d.has_html && d.text_body === null) {
    panel.append(h("p", { class: "muted" }, "This message has no body to preview."));
    return;
  }
  const frame = h("iframe", {
    class: "preview-frame",
    id: "preview-frame",
    title: "Message preview (sandboxed, scripts disabled)",
    sandbox: "allow-popups allow-popups-to-escape-sandbox",
    referrerpolicy: "no-referrer",
    src: `/ui/messages/${d.id}/preview`,
  });
  const desktop = h("button", { type: "button", "aria-pressed": "true", id: "width-desktop" }, "Desktop");
  const mobile = h("button", { type: "button", "aria-pressed": "false", id: "width-mobile" }, "Mobile (375 px)");
  desktop.addEventListener("click", () => {
    frame.classList.remove("mobile");
    desktop.setAttribute("aria-pressed", "true");
    mobile.setAttribute("aria-pressed", "false");
  });
  mobile.addEventListener("click", () => {
    frame.classList.add("mobile");
    desktop.setAttribute("aria-pressed", "false");
    mobile.setAttribute("aria-pressed", "true");
  });
  const remote = h("button", { type: "button", id: "remote-images", "aria-pressed": "false", "aria-describedby": "preview-note" }, "Load remote images");
  const note = h("p", { class: "muted small", id: "preview-note", role: "status" }, REMOTE_IMAGES_NOTE.blocked);
  remote.addEventListener("click", () => {
    const on = remote.getAttribute("aria-pressed") !== "true";
    remote.setAttribute("aria-pressed", String(on));
    remote.textContent = on ? "Block remote images" : "Load remote images";
    note.textContent = on ? REMOTE_IMAGES_NOTE.loaded : REMOTE_IMAGES_NOTE.blocked;
    frame.setAttribute("src", `/ui/messages/${d.id}/preview${on ? "?remote_images=true" : ""}`);
  });
  panel.append(
    h(
      "div",
      { class: "preview-bar", role: "toolbar", "aria-label": "Preview options" },
      h("span", { class: "row", role: "group", "aria-label": "Width" }, desktop, mobile),
      h("span", { class: "spacer" }),
      d.has_html ? remote : null,
    ),
    d.has_html ? note : h("p", { class: "notice" }, "No HTML part: showing the text part."),
    h("div", { class: "preview-stage" }, frame),
  );
}

/**
 * The HTML source as numbered lines (split like Python's str.splitlines, as the checks do).
 * @param {string} source
 */
function sourceLines(source) {
  const lines = source.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * HTML source line → the titles of the findings located on it.
 * @returns {Map<number, string[]>}
 */
function findingLines() {
  /** @type {Map<number, string[]>} */
  const marks = new Map();
  const r = shown.report;
  if (!r || "error" in r || !r.checks) return marks;
  for (const result of Object.values(r.checks)) {
    for (const f of result.findings || []) {
      for (const loc of f.locations || []) {
        if ((loc.part || "html") === "html" && typeof loc.line === "number" && Number.isInteger(loc.line)) {
          let titles = marks.get(loc.line);
          if (!titles) marks.set(loc.line, (titles = []));
          titles.push(f.title || f.rule);
        }
      }
    }
  }
  return marks;
}

/**
 * @param {HTMLElement} panel
 * @param {MessageDetail} d
 */
function renderSource(panel, d) {
  if (d.html_body === null) {
    panel.append(h("p", { class: "muted" }, "This message has no HTML part."));
    return;
  }
  const marks = findingLines();
  const lines = sourceLines(d.html_body);
  const ol = h("ol", { "aria-label": "HTML source lines" });
  lines.forEach((text, i) => {
    const n = i + 1;
    const notes = marks.get(n);
    ol.append(
      h(
        "li",
        { id: `L${n}`, class: notes ? "marked" : null, title: notes ? notes.join("; ") : null },
        h("span", { class: "ln", "aria-hidden": "true" }, String(n)),
        h("code", {}, text),
      ),
    );
  });
  panel.append(h("p", { class: "muted small" }, `${lines.length} lines · ● marks a line with a finding`), h("div", { class: "source", id: "source" }, ol));
}

/** @param {string} [anchor] L<line> */
function highlightLine(anchor) {
  const source = document.getElementById("source");
  if (!source) return;
  for (const li of source.querySelectorAll("li.hl")) {
    li.classList.remove("hl");
    li.removeAttribute("aria-current");
  }
  const m = /^L(\d+)$/.exec(anchor || "");
  if (!m) return;
  const li = document.getElementById(`L${m[1]}`);
  if (!li) return;
  li.classList.add("hl");
  li.setAttribute("aria-current", "location");
  li.setAttribute("tabindex", "-1");
  li.scrollIntoView({ block: "center" });
  li.focus({ preventScroll: true });
}

/**
 * @param {HTMLElement} panel
 * @param {MessageDetail} d
 */
async function renderRaw(panel, d) {
  const pre = h("pre", { class: "raw", id: "raw-source" }, "Loading…");
  panel.append(pre);
  try {
    const response = await fetchRaw(`/api/v1/messages/${d.id}/raw`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const LIMIT = 2 * 1024 * 1024;
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, LIMIT));
    pre.textContent = text;
    if (bytes.length > LIMIT) panel.prepend(h("p", { class: "notice" }, `Showing the first 2 MB of ${fmtSize(bytes.length)}; download the .eml for the rest.`));
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 410) {
      pre.remove();
      sourceGone(panel, "The raw source");
    } else pre.replaceWith(errorBox(err));
  }
}

/**
 * @param {HTMLElement} panel
 * @param {MessageDetail} d
 */
function renderHeaders(panel, d) {
  panel.append(
    h(
      "div",
      { class: "table-wrap card" },
      h(
        "table",
        { class: "headers-table" },
        h("caption", { class: "visually-hidden" }, "Message headers"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, d.headers.map((x) => h("tr", {}, h("td", {}, x.name), h("td", { class: "break mono" }, x.value)))),
      ),
    ),
  );
  if (d.parse_defects && d.parse_defects.length) renderDefects(panel, d);
}

/**
 * @param {HTMLElement} panel
 * @param {MessageDetail} d
 */
function renderDefects(panel, d) {
  panel.append(h("h3", {}, "Parse defects"), h("ul", {}, d.parse_defects.map((x) => h("li", {}, x))));
}

/**
 * @param {HTMLElement} panel
 * @param {MessageDetail} d
 */
function renderAttachments(panel, d) {
  if (!d.attachments.length) {
    panel.append(h("p", { class: "muted" }, "No attachments."));
    return;
  }
  const expired = sourceExpiredAt(d);
  if (expired) {
    panel.append(
      h("p", { class: "notice" }, "Retention cleaned up the source of this message on ", timeEl(expired), ": the attachments are listed but can no longer be downloaded."),
    );
  }
  panel.append(
    h(
      "div",
      { class: "table-wrap card" },
      h(
        "table",
        { id: "attachments" },
        h("caption", { class: "visually-hidden" }, "Attachments"),
        h(
          "thead",
          {},
          h("tr", {}, ["Name", "Type", "Size", "Content-ID", ""].map((c) => h("th", { scope: "col" }, c))),
        ),
        h(
          "tbody",
          {},
          d.attachments.map((a) =>
            h(
              "tr",
              {},
              h("td", { class: "break" }, a.filename || `attachment-${a.index}`),
              h("td", { class: "mono" }, a.content_type),
              h("td", { class: "num" }, fmtSize(a.size)),
              h("td", { class: "mono break" }, a.content_id || ""),
              h(
                "td",
                {},
                expired
                  ? h("span", { class: "muted small" }, "Not available")
                  : h(
                      "a",
                      {
                        class: "button",
                        href: `/api/v1/messages/${d.id}/attachments/${a.index}`,
                        download: a.filename || `attachment-${a.index}`,
                        "aria-label": `Download ${a.filename || `attachment ${a.index}`}`,
                      },
                      "Download",
                    ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

async function rerunAnalysis() {
  const button = /** @type {HTMLButtonElement} */ (byId("rerun"));
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = "Analysing…";
  const id = shown.id;
  try {
    /** @type {Answer<Report>} */
    const { data } = await api(`/api/v1/messages/${id}/analyze`, { method: "POST" });
    if (!isCurrent("message", id)) return; // another page is shown now: not its report
    shown.report = data;
    renderTabs();
    renderReportBadge();
    toast("Analysis finished");
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 410) {
      toast("The source of this message was cleaned up: the analysis cannot run again");
      await reloadDetail(); // draws the frame again, with the notice
      return;
    }
    toast(`Analysis failed: ${err instanceof Error ? err.message : err}`);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = "↻ Re-run analysis";
  }
}

/** Fetch the message again and redraw its frame (the report and the tab stay). */
async function reloadDetail() {
  const id = shown.id;
  /** @type {MessageDetail} */
  let loaded;
  try {
    /** @type {Answer<MessageDetail>} */
    const answer = await api(`/api/v1/messages/${id}`);
    loaded = answer.data;
  } catch (err) {
    return;
  }
  if (!isCurrent("message", id)) return;
  shown.detail = loaded;
  renderMessageFrame();
}

async function deleteMessage() {
  if (!(await confirmDialog("Delete this message?"))) return;
  const inboxId = detail().inbox_id;
  try {
    await api(`/api/v1/messages/${shown.id}`, { method: "DELETE" });
    toast("Message deleted");
    location.hash = `#/inbox/${inboxId}`;
  } catch (err) {
    toast(`Delete failed: ${err instanceof Error ? err.message : err}`);
  }
}
