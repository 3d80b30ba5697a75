// mailqa web UI: one page, hash routes, the JSON API with the session cookie.
// Every piece of message or report data reaches the DOM as text (textContent, attribute
// values set one by one); nothing built from data is ever parsed as HTML.
"use strict";

(() => {
  const main = document.getElementById("main");
  const CSRF_HEADER = main.dataset.csrfHeader || "X-Mailqa-Request";
  const PER_PAGE = 50;

  // ---------------------------------------------------------------- DOM helpers

  /** Build an element. attrs: class, text, on<Event> handlers, other attributes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "style") el.style.cssText = value; // CSSOM: allowed by the page's CSP
      else if (key === "text") el.textContent = String(value);
      else if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key === "href" || key === "src") {
        const url = safeUrl(value);
        if (url !== null) el.setAttribute(key, url);
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** Only our own paths, in-page anchors and http(s) URLs become links. */
  function safeUrl(value) {
    const s = String(value).trim();
    if (s.startsWith("#") || (s.startsWith("/") && !s.startsWith("//"))) return s;
    if (/^https?:\/\//i.test(s)) return s;
    return null;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function externalLink(url, label) {
    const safe = safeUrl(url);
    if (safe === null || !/^https?:/i.test(safe)) return h("span", { class: "break", text: label || url });
    return h("a", { href: safe, target: "_blank", rel: "noopener noreferrer", class: "break" }, label || url);
  }

  function badge(text, kind, label) {
    return h("span", { class: `badge b-${kind}`, "aria-label": label || null }, text);
  }

  function fmtSize(n) {
    if (typeof n !== "number") return "";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(2)} MB`;
  }

  function fmtDate(s) {
    const d = new Date(s);
    return Number.isNaN(d.getTime()) ? String(s || "") : d.toLocaleString();
  }

  /** A time element: the ISO value as its datetime, shown in the browser's locale. */
  function timeEl(iso) {
    return h("time", { datetime: iso }, fmtDate(iso));
  }

  function scoreKind(score) {
    if (typeof score !== "number") return "pending";
    if (score >= 80) return "good";
    if (score >= 50) return "fair";
    return "poor";
  }

  function isObj(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  function toast(text) {
    const el = document.getElementById("toast");
    el.textContent = text;
    el.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => el.classList.remove("show"), 2500);
  }

  function confirmDialog(text) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      document.getElementById("confirm-ok").focus();
    });
  }

  // ---------------------------------------------------------------- API

  class ApiFailure extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
    }
  }

  async function api(path, { method = "GET", body, raw = false } = {}) {
    const headers = { Accept: raw ? "*/*" : "application/json" };
    if (method !== "GET") headers[CSRF_HEADER] = "1";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    if (response.status === 401) {
      location.assign("/login");
      throw new ApiFailure(401, { message: "signed out" });
    }
    if (raw) {
      if (!response.ok) throw new ApiFailure(response.status, null);
      return response;
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) throw new ApiFailure(response.status, data);
    return { status: response.status, data };
  }

  function errorBox(err) {
    return h("p", { class: "alert", role: "alert" }, `Error: ${err && err.message ? err.message : err}`);
  }

  // ---------------------------------------------------------------- theme, session

  const themeButton = document.getElementById("theme-toggle");
  function effectiveTheme() {
    return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
  }
  function syncThemeButton() {
    const dark = effectiveTheme() === "dark";
    themeButton.setAttribute("aria-pressed", String(dark));
    themeButton.setAttribute("aria-label", dark ? "Switch to light theme" : "Switch to dark theme");
  }
  themeButton.addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("mailqa-theme", next);
    } catch (e) {
      /* storage blocked */
    }
    syncThemeButton();
  });
  syncThemeButton();

  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/logout", { method: "POST", headers: { [CSRF_HEADER]: "1" }, credentials: "same-origin" });
    location.assign("/login");
  });

  api("/ui/session")
    .then(({ data }) => {
      document.getElementById("who").textContent = `${data.name}${data.is_admin ? " · admin" : ""}`;
    })
    .catch(() => {});

  // ---------------------------------------------------------------- sidebar

  let inboxes = [];
  async function loadNav() {
    const tree = document.getElementById("nav-tree");
    try {
      const [projects, boxes] = await Promise.all([api("/api/v1/projects"), api("/api/v1/inboxes")]);
      inboxes = boxes.data;
      const names = new Map(projects.data.map((p) => [p.id, p.name]));
      const byProject = new Map();
      for (const box of inboxes) {
        if (!byProject.has(box.project_id)) byProject.set(box.project_id, []);
        byProject.get(box.project_id).push(box);
      }
      clear(tree);
      if (!inboxes.length) tree.append(h("p", { class: "muted", text: "No inboxes yet." }));
      for (const [projectId, boxesOf] of byProject) {
        const label = names.get(projectId) || `Project ${projectId}`;
        const headingId = `project-${projectId}`;
        tree.append(
          h("div", { class: "project", id: headingId }, label),
          h(
            "ul",
            { "aria-labelledby": headingId },
            boxesOf.map((box) =>
              h(
                "li",
                {},
                h(
                  "a",
                  { class: "inbox", href: `#/inbox/${box.id}`, "data-inbox": box.id },
                  h("span", { class: "break" }, box.name),
                  h("span", { class: "muted small" }, fmtSize(box.used_bytes)),
                ),
              ),
            ),
          ),
        );
      }
      markNav();
    } catch (err) {
      clear(tree).append(errorBox(err));
    }
  }

  function markNav(inboxId) {
    for (const a of document.querySelectorAll("#nav-tree a.inbox")) {
      if (String(inboxId) === a.dataset.inbox) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const audits = document.getElementById("nav-audits");
    if (audits) {
      if (inboxId === "audits") audits.setAttribute("aria-current", "page");
      else audits.removeAttribute("aria-current");
    }
  }

  // ---------------------------------------------------------------- routing

  let cleanup = () => {};
  let current = { view: null };

  function parseRoute() {
    const [path, query] = location.hash.replace(/^#/, "").split("?");
    const parts = path.split("/").filter(Boolean);
    return { parts, params: new URLSearchParams(query || "") };
  }

  async function route() {
    const { parts, params } = parseRoute();
    if (parts[0] === "message" && /^\d+$/.test(parts[1] || "")) {
      const id = Number(parts[1]);
      const tab = parts[2] || "preview";
      if (current.view === "message" && current.id === id) {
        selectTab(tab, parts[3]);
        return;
      }
      return showMessage(id, tab, parts[3]);
    }
    if (parts[0] === "inbox" && /^\d+$/.test(parts[1] || "")) {
      return showInbox(Number(parts[1]), params);
    }
    if (parts[0] === "audits") return showAudits(params);
    if (parts[0] === "audit" && /^\d+$/.test(parts[1] || "")) return showAudit(Number(parts[1]));
    return showHome();
  }

  function startView(view, extra) {
    cleanup();
    cleanup = () => {};
    current = { view, ...extra };
    clear(main);
  }

  function showHome() {
    startView("home");
    markNav(null);
    document.title = "mailqa";
    main.append(h("h1", {}, "Inboxes"));
    if (!inboxes.length) {
      main.append(h("p", { class: "muted" }, "No inbox is visible to this token yet."));
      return;
    }
    main.append(
      h(
        "div",
        { class: "qa-summary" },
        inboxes.map((box) =>
          h(
            "a",
            { class: "qa-card", href: `#/inbox/${box.id}` },
            h("span", { class: "name" }, box.name),
            h("span", { class: "muted small" }, `${fmtSize(box.used_bytes)} of ${fmtSize(box.quota_bytes)}`),
            h("code", { class: "small" }, `${box.smtp.host}:${box.smtp.port}`),
          ),
        ),
      ),
    );
  }

  // ---------------------------------------------------------------- inbox

  async function showInbox(inboxId, params) {
    if (!inboxes.some((b) => b.id === inboxId)) await loadNav(); // created since the page loaded
    startView("inbox", { id: inboxId });
    markNav(inboxId);
    const search = params.get("q") || "";
    const page = Math.max(1, Number(params.get("page")) || 1);
    const box = inboxes.find((b) => b.id === inboxId);
    document.title = `${box ? box.name : "Inbox"} · mailqa`;

    const liveDot = h("span", { class: "live-dot", "aria-hidden": "true" });
    const liveText = h("span", { class: "muted small" }, "connecting…");
    const searchInput = h("input", {
      type: "search",
      value: search,
      placeholder: "Search subject, from, to…",
      "aria-label": "Search messages",
      id: "search",
    });
    const list = h("ul", { class: "msglist", id: "messages", "aria-label": "Messages", "aria-live": "polite", "aria-busy": "true" });
    const pager = h("div", { class: "row pager" });
    const countText = h("span", { class: "muted" });

    main.append(
      h(
        "div",
        { class: "inbox-head" },
        h("div", {}, h("h1", {}, box ? box.name : `Inbox ${inboxId}`), countText),
        h("span", { class: "spacer" }),
        h("span", { class: "row" }, liveDot, liveText),
        h("a", { class: "button", href: `#/audits?inbox=${inboxId}`, id: "audit-inbox" }, "Audit inbox"),
        h("button", { type: "button", onclick: markAllRead }, "Mark all read"),
        h("button", { type: "button", class: "danger", onclick: deleteAll }, "Delete all"),
      ),
      box
        ? h(
            "p",
            { class: "smtp muted" },
            "SMTP ",
            h("code", {}, `${box.smtp.host}:${box.smtp.port}`),
            " · user ",
            h("code", {}, box.smtp.username),
            " · password ",
            h("code", {}, box.smtp.password),
          )
        : "",
      h("div", { class: "row", style: "margin-bottom:.75rem" }, searchInput),
      list,
      pager,
    );

    let seen = null;
    let timer = null;
    searchInput.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const q = searchInput.value.trim();
        history.replaceState(null, "", `#/inbox/${inboxId}${q ? `?q=${encodeURIComponent(q)}` : ""}`);
        loadList(q, 1);
      }, 250);
    });

    let state = { q: search, page };
    async function loadList(q = state.q, pg = state.page) {
      state = { q, page: pg };
      const query = new URLSearchParams({ page: String(pg), per_page: String(PER_PAGE) });
      if (q) query.set("search", q);
      try {
        const { data } = await api(`/api/v1/inboxes/${inboxId}/messages?${query}`);
        if (current.view !== "inbox" || current.id !== inboxId) return;
        renderList(data);
      } catch (err) {
        clear(list).append(h("li", {}, errorBox(err)));
      }
      list.setAttribute("aria-busy", "false");
    }

    function renderList(data) {
      const before = seen;
      seen = new Set(data.messages.map((m) => m.id));
      countText.textContent = `${data.total} message${data.total === 1 ? "" : "s"}`;
      clear(list);
      if (!data.messages.length) {
        list.append(h("li", { class: "empty" }, state.q ? "No message matches." : "No mail yet. Send some to the SMTP address above."));
      }
      for (const m of data.messages) {
        const isNew = before !== null && !before.has(m.id);
        const expired = m.source_expired_at || null;
        const score =
          m.analysis_status !== "analyzed"
            ? badge(m.analysis_status, "pending", `Analysis ${m.analysis_status}`)
            : badge(typeof m.score === "number" ? String(Math.round(m.score)) : "—", scoreKind(m.score), `Score ${m.score ?? "none"}`);
        list.append(
          h(
            "li",
            { class: isNew ? "new" : null, "data-id": m.id },
            h(
              "a",
              {
                class: `msg-link${m.is_read ? "" : " unread"}`,
                // Without its source only the report is left: open on it.
                href: `#/message/${m.id}/${expired ? "overview" : "preview"}`,
                "aria-label": `${m.is_read ? "" : "Unread. "}${m.subject || "(no subject)"}, from ${m.from || m.from_address || "unknown"}${expired ? ". Source cleaned up by retention" : ""}`,
              },
              h("span", { class: "dot", "aria-hidden": "true" }),
              h(
                "span",
                { class: "line1" },
                h("span", { class: "from" }, m.from || m.from_address || "(no sender)"),
                h("span", { class: "subject" }, m.subject || "(no subject)"),
              ),
              h(
                "span",
                { class: "meta" },
                h(
                  "span",
                  { class: "row" },
                  expired
                    ? h("span", { class: "badge b-expired", title: `Source cleaned up by retention on ${fmtDate(expired)}` }, "source expired")
                    : null,
                  score,
                ),
                h("span", {}, fmtDate(m.created_at)),
                h("span", {}, fmtSize(m.size)),
              ),
              h("span", { class: "preview" }, m.preview_text || ""),
            ),
          ),
        );
      }
      clear(pager);
      const pages = Math.max(1, Math.ceil(data.total / PER_PAGE));
      if (pages > 1) {
        pager.append(
          h("button", { type: "button", disabled: state.page <= 1, onclick: () => loadList(state.q, state.page - 1) }, "← Newer"),
          h("span", { class: "muted" }, `Page ${state.page} of ${pages}`),
          h("button", { type: "button", disabled: state.page >= pages, onclick: () => loadList(state.q, state.page + 1) }, "Older →"),
        );
      }
    }

    // Arrow keys move between messages.
    list.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
      const links = [...list.querySelectorAll("a.msg-link")];
      const i = links.indexOf(document.activeElement);
      if (i < 0) return;
      const next = links[i + (ev.key === "ArrowDown" ? 1 : -1)];
      if (next) {
        next.focus();
        ev.preventDefault();
      }
    });

    async function markAllRead() {
      await api(`/api/v1/inboxes/${inboxId}/all_read`, { method: "POST" });
      loadList();
    }
    async function deleteAll() {
      if (!(await confirmDialog("Delete every message of this inbox?"))) return;
      const { data } = await api(`/api/v1/inboxes/${inboxId}/messages`, { method: "DELETE" });
      toast(`Deleted ${data.count} message(s)`);
      loadList();
    }

    await loadList(search, page);

    // Live updates: the server says when the inbox changed; we refetch the page shown.
    const events = new EventSource(`/ui/inboxes/${inboxId}/events`);
    let first = true;
    events.addEventListener("open", () => {
      liveDot.classList.add("on");
      liveText.textContent = "live";
    });
    events.addEventListener("error", () => {
      liveDot.classList.remove("on");
      liveText.textContent = "reconnecting…";
    });
    events.addEventListener("changed", () => {
      if (first) {
        first = false; // the state at connect time: already shown
        return;
      }
      loadList();
    });
    events.addEventListener("gone", () => {
      events.close();
      loadNav();
      location.hash = "#/";
    });
    cleanup = () => events.close();
  }

  // ---------------------------------------------------------------- message

  const CHECK_LABELS = {
    html: "HTML check",
    spam: "Spam",
    blacklist: "Blacklists",
    auth: "Authentication",
    links: "Links",
    hygiene: "Hygiene",
    headers: "Headers",
  };
  const CHECK_ORDER = ["html", "spam", "blacklist", "auth", "links", "hygiene", "headers"];
  const MESSAGE_TABS = [
    ["preview", "Preview"],
    ["text", "Text"],
    ["source", "HTML source"],
    ["raw", "Raw"],
    ["headers-list", "Headers"],
    ["attachments", "Attachments"],
  ];

  function checkLabel(name) {
    return CHECK_LABELS[name] || name.charAt(0).toUpperCase() + name.slice(1);
  }

  async function showMessage(id, tab, anchor) {
    startView("message", { id, detail: null, report: null, tab: null, rendered: {} });
    markNav(null);
    main.append(h("p", { class: "muted" }, "Loading…"));
    let detail;
    try {
      detail = (await api(`/api/v1/messages/${id}`)).data;
    } catch (err) {
      clear(main).append(errorBox(err), h("p", {}, h("a", { href: "#/" }, "Back to inboxes")));
      return;
    }
    if (current.view !== "message" || current.id !== id) return;
    current.detail = detail;
    markNav(detail.inbox_id);
    document.title = `${detail.subject || "(no subject)"} · mailqa`;
    if (!detail.is_read) api(`/api/v1/messages/${id}`, { method: "PATCH", body: { is_read: true } }).catch(() => {});
    renderMessageFrame();
    await loadReport();
    if (current.view !== "message" || current.id !== id) return; // navigated away meanwhile
    // The hash may have moved to another tab of this message while the report loaded.
    const now = parseRoute().parts;
    if (now[0] === "message" && Number(now[1]) === id) selectTab(now[2] || "preview", now[3]);
    else selectTab(tab, anchor);
  }

  async function loadReport() {
    const id = current.id;
    for (let attempt = 0; attempt < 120; attempt++) {
      let res;
      try {
        res = await api(`/api/v1/messages/${id}/report`);
      } catch (err) {
        if (current.view !== "message" || current.id !== id) return;
        current.report = { error: err.message };
        break;
      }
      if (current.view !== "message" || current.id !== id) return;
      if (res.status === 200) {
        current.report = res.data;
        break;
      }
      current.report = null; // 202: still running
      renderTabs();
      await new Promise((r) => setTimeout(r, 500));
      if (current.view !== "message" || current.id !== id) return;
    }
    if (current.view !== "message" || current.id !== id) return;
    renderTabs();
    renderReportBadge();
  }

  function renderReportBadge() {
    const slot = document.getElementById("report-badge");
    if (!slot) return;
    clear(slot);
    const r = current.report;
    if (!r) slot.append(badge("analysing…", "pending"));
    else if (r.error) slot.append(badge("report unavailable", "errored"));
    else {
      slot.append(badge(r.status, r.status, `Overall status ${r.status}`));
      if (typeof r.score === "number") slot.append(" ", badge(`score ${Math.round(r.score)}`, scoreKind(r.score), `Overall score ${r.score}`));
    }
  }

  /** When retention dropped the message's raw source (null while it is kept). */
  function sourceExpiredAt(d) {
    return (d && d.source_expired_at) || null;
  }

  const RERUN_NEEDS_SOURCE = "Re-running the analysis needs the source.";

  function renderMessageFrame() {
    const d = current.detail;
    const expired = sourceExpiredAt(d);
    const rerun = expired
      ? h("button", { type: "button", id: "rerun", class: "unavailable", disabled: true, title: RERUN_NEEDS_SOURCE, "aria-describedby": "rerun-reason" }, "↻ Re-run analysis")
      : h("button", { type: "button", id: "rerun", onclick: rerunAnalysis }, "↻ Re-run analysis");
    clear(main).append(
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
    );
    renderReportBadge();
    renderTabs();
  }

  function metaRow(label, value) {
    return [h("dt", {}, label), h("dd", {}, value || "—")];
  }

  function tabList() {
    const tabs = MESSAGE_TABS.map(([key, label]) => ({ key, label }));
    const r = current.report;
    tabs.push({ key: "overview", label: "QA overview", qa: true });
    if (r && r.checks) {
      const names = Object.keys(r.checks).sort((a, b) => {
        const ia = CHECK_ORDER.indexOf(a);
        const ib = CHECK_ORDER.indexOf(b);
        return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
      });
      for (const name of names) {
        tabs.push({ key: `qa-${name}`, label: checkLabel(name), qa: true, status: r.checks[name].status });
      }
    }
    return tabs;
  }

  function renderTabs() {
    const bar = document.getElementById("tabs");
    if (!bar) return;
    const selected = current.tab;
    // Rebuilding the bar (the report arrived, a re-run) must not drop keyboard focus.
    const focusedTab = bar.contains(document.activeElement) ? document.activeElement.dataset.tab : null;
    clear(bar);
    current.rendered = {};
    let sep = false;
    for (const t of tabList()) {
      if (t.qa && !sep) {
        bar.append(h("span", { class: "sep", "aria-hidden": "true" }));
        sep = true;
      }
      const label = t.key === "attachments" ? `${t.label} (${current.detail.attachments.length})` : t.label;
      bar.append(
        h(
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
        ),
      );
    }
    const panels = document.getElementById("panels");
    clear(panels);
    if (selected) selectTab(selected, null, true);
    const refocus = focusedTab && document.getElementById(`tab-${focusedTab}`);
    if (refocus) refocus.focus();
  }

  document.addEventListener("keydown", (ev) => {
    const tab = ev.target.closest && ev.target.closest('[role="tab"]');
    if (!tab) return;
    const tabs = [...tab.parentElement.querySelectorAll('[role="tab"]')];
    let i = tabs.indexOf(tab);
    if (ev.key === "ArrowRight") i = (i + 1) % tabs.length;
    else if (ev.key === "ArrowLeft") i = (i - 1 + tabs.length) % tabs.length;
    else if (ev.key === "Home") i = 0;
    else if (ev.key === "End") i = tabs.length - 1;
    else return;
    ev.preventDefault();
    tabs[i].focus();
    navigateTab(tabs[i].dataset.tab);
  });

  function navigateTab(key, anchor) {
    const target = `#/message/${current.id}/${key}${anchor ? `/${anchor}` : ""}`;
    if (location.hash === target) selectTab(key, anchor);
    else location.hash = target;
  }

  function selectTab(key, anchor, force) {
    const bar = document.getElementById("tabs");
    if (!bar) return;
    let button = document.getElementById(`tab-${key}`);
    if (!button) {
      if (key.startsWith("qa-") && !current.report) key = "overview";
      button = document.getElementById(`tab-${key}`) || document.getElementById("tab-preview");
      key = button.dataset.tab;
    }
    const refocus = bar.contains(document.activeElement);
    for (const b of bar.querySelectorAll('[role="tab"]')) {
      const on = b === button;
      b.setAttribute("aria-selected", String(on));
      b.setAttribute("tabindex", on ? "0" : "-1");
    }
    if (refocus) button.focus();
    current.tab = key;
    const panels = document.getElementById("panels");
    let panel = document.getElementById(`panel-${key}`);
    if (!panel || force) {
      if (panel) panel.remove();
      panel = h("section", { role: "tabpanel", id: `panel-${key}`, "aria-labelledby": `tab-${key}`, tabindex: "-1" });
      panels.append(panel);
      renderPanel(key, panel);
    }
    for (const p of panels.children) p.hidden = p !== panel;
    if (key === "source") highlightLine(anchor);
  }

  const SOURCE_PANES = {
    preview: "The body",
    text: "The text part",
    source: "The HTML source",
    raw: "The raw source",
    "headers-list": "The headers",
  };

  /** What a message view shows once retention dropped the source: a note, never a fetch.
   *  (The date is unknown when the source went while the view was open: a 410 told us.) */
  function sourceGone(panel, what) {
    const when = sourceExpiredAt(current.detail);
    panel.append(
      h(
        "div",
        { class: "gone" },
        h("p", {}, `${what} of this message is no longer available: retention cleaned up its source`, when ? [" on ", timeEl(when)] : null, "."),
        h("button", { type: "button", onclick: () => navigateTab("overview") }, "Open the QA overview"),
      ),
    );
  }

  function renderPanel(key, panel) {
    const d = current.detail;
    try {
      if (sourceExpiredAt(d) && SOURCE_PANES[key]) {
        sourceGone(panel, SOURCE_PANES[key]);
        if (key === "headers-list" && d.parse_defects && d.parse_defects.length) renderDefects(panel, d);
        return;
      }
      if (key === "preview") return renderPreview(panel, d);
      if (key === "text") return panel.append(d.text_body === null ? h("p", { class: "muted" }, "This message has no text part.") : h("pre", { class: "text-body", id: "text-body" }, d.text_body));
      if (key === "source") return renderSource(panel, d);
      if (key === "raw") return renderRaw(panel, d);
      if (key === "headers-list") return renderHeaders(panel, d);
      if (key === "attachments") return renderAttachments(panel, d);
      if (key === "overview") return renderOverview(panel);
      if (key.startsWith("qa-")) return renderCheck(panel, key.slice(3));
    } catch (err) {
      panel.append(errorBox(err));
    }
  }

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
    const remote = h("button", { type: "button", id: "remote-images", "aria-pressed": "false" }, "Load remote images");
    remote.addEventListener("click", () => {
      const on = remote.getAttribute("aria-pressed") !== "true";
      remote.setAttribute("aria-pressed", String(on));
      remote.textContent = on ? "Block remote images" : "Load remote images";
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
      d.has_html ? h("p", { class: "muted small" }, "Remote images are blocked until you load them; scripts never run.") : h("p", { class: "notice" }, "No HTML part: showing the text part."),
      h("div", { class: "preview-stage" }, frame),
    );
  }

  /** The HTML source as numbered lines (split like Python's str.splitlines, as the checks do). */
  function sourceLines(source) {
    const lines = source.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    return lines;
  }

  function findingLines() {
    const marks = new Map();
    const r = current.report;
    if (!r || !r.checks) return marks;
    for (const result of Object.values(r.checks)) {
      for (const f of result.findings || []) {
        for (const loc of f.locations || []) {
          if ((loc.part || "html") === "html" && Number.isInteger(loc.line)) {
            if (!marks.has(loc.line)) marks.set(loc.line, []);
            marks.get(loc.line).push(f.title || f.rule);
          }
        }
      }
    }
    return marks;
  }

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

  async function renderRaw(panel, d) {
    const pre = h("pre", { class: "raw", id: "raw-source" }, "Loading…");
    panel.append(pre);
    try {
      const response = await api(`/api/v1/messages/${d.id}/raw`, { raw: true });
      const bytes = new Uint8Array(await response.arrayBuffer());
      const LIMIT = 2 * 1024 * 1024;
      const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, LIMIT));
      pre.textContent = text;
      if (bytes.length > LIMIT) panel.prepend(h("p", { class: "notice" }, `Showing the first 2 MB of ${fmtSize(bytes.length)}; download the .eml for the rest.`));
    } catch (err) {
      if (err.status === 410) {
        pre.remove();
        sourceGone(panel, "The raw source");
      } else pre.replaceWith(errorBox(err));
    }
  }

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

  function renderDefects(panel, d) {
    panel.append(h("h3", {}, "Parse defects"), h("ul", {}, d.parse_defects.map((x) => h("li", {}, x))));
  }

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
    const button = document.getElementById("rerun");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = "Analysing…";
    try {
      const { data } = await api(`/api/v1/messages/${current.id}/analyze`, { method: "POST" });
      current.report = data;
      renderTabs();
      renderReportBadge();
      toast("Analysis finished");
    } catch (err) {
      if (err.status === 410) {
        toast("The source of this message was cleaned up: the analysis cannot run again");
        await reloadDetail(); // draws the frame again, with the notice
        return;
      }
      toast(`Analysis failed: ${err.message}`);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = "↻ Re-run analysis";
    }
  }

  /** Fetch the message again and redraw its frame (the report and the tab stay). */
  async function reloadDetail() {
    const id = current.id;
    let detail;
    try {
      detail = (await api(`/api/v1/messages/${id}`)).data;
    } catch (err) {
      return;
    }
    if (current.view !== "message" || current.id !== id) return;
    current.detail = detail;
    renderMessageFrame();
  }

  async function deleteMessage() {
    if (!(await confirmDialog("Delete this message?"))) return;
    const inboxId = current.detail.inbox_id;
    try {
      await api(`/api/v1/messages/${current.id}`, { method: "DELETE" });
      toast("Message deleted");
      location.hash = `#/inbox/${inboxId}`;
    } catch (err) {
      toast(`Delete failed: ${err.message}`);
    }
  }

  // ---------------------------------------------------------------- QA: shared

  function reportUnavailable(panel) {
    const r = current.report;
    if (!r) {
      panel.append(h("p", { class: "muted", role: "status" }, "Analysis is still running…"));
      return true;
    }
    if (r.error) {
      panel.append(errorBox(r.error));
      return true;
    }
    return false;
  }

  function renderOverview(panel) {
    if (reportUnavailable(panel)) return;
    const r = current.report;
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
            { type: "button", class: "qa-card", onclick: () => navigateTab(`qa-${c.name}`) },
            h("span", { class: "row" }, h("span", { class: "name" }, checkLabel(c.name)), badge(c.status, c.status)),
            typeof c.score === "number" ? h("span", {}, `Score ${Math.round(c.score)}`) : null,
            h("span", { class: "muted small" }, c.summary || ""),
            h("span", { class: "muted small" }, `${(c.findings || []).length} finding(s)`),
          ),
        ),
      ),
    );
  }

  function checkHeader(result) {
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

  function locationButton(loc) {
    const part = loc.part || "html";
    const label = `${part === "html" ? "line" : `${part} line`} ${loc.line}${Number.isInteger(loc.column) ? `:${loc.column}` : ""}`;
    if (sourceExpiredAt(current.detail)) {
      // The source it points into was cleaned up: the location stays, as plain text.
      return h("span", { class: "badge b-info loc-gone", title: "The source was cleaned up by retention" }, label);
    }
    if (part === "html" && Number.isInteger(loc.line)) {
      return h("button", { type: "button", class: "loc-link", "aria-label": `Show HTML source ${label}`, onclick: () => navigateTab("source", `L${loc.line}`) }, label);
    }
    if (part === "headers") {
      return h("button", { type: "button", class: "loc-link", onclick: () => navigateTab("headers-list") }, label);
    }
    if (part === "text") {
      return h("button", { type: "button", class: "loc-link", onclick: () => navigateTab("text") }, label);
    }
    return h("span", { class: "badge b-info" }, label);
  }

  function renderFindings(findings, { title = "Findings" } = {}) {
    if (!findings || !findings.length) return h("p", { class: "muted" }, "No findings.");
    const order = { error: 0, warning: 1, info: 2 };
    const sorted = [...findings].sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3));
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
                  f.locations.map((loc) => [
                    Number.isInteger(loc.line) ? locationButton(loc) : null,
                    loc.snippet ? h("code", { class: "snippet" }, loc.snippet) : null,
                  ]),
                )
              : null,
          ),
        ),
      ),
    );
  }

  /** A table of objects: preferred columns first, then the other scalar fields. */
  function objectTable(rows, preferred = [], caption = "") {
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

  function cellValue(v, key) {
    if (v === null || v === undefined) return "";
    if (typeof v === "boolean") return badge(v ? "yes" : "no", key === "listed" || key === "in_black_list" ? (v ? "n" : "y") : "info");
    if (typeof v === "string" && /url|link|delist/i.test(key || "") && /^https?:\/\//i.test(v)) return externalLink(v);
    if (typeof v === "object") return h("code", { class: "small" }, JSON.stringify(v));
    return String(v);
  }

  /** Any details payload, readably: scalars as a list, arrays of objects as tables. */
  function genericDetails(details, depth = 0) {
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

  function renderCheck(panel, name) {
    if (reportUnavailable(panel)) return;
    const result = current.report.checks[name];
    if (!result) {
      panel.append(h("p", { class: "muted" }, "This check is not in the report."));
      return;
    }
    panel.append(checkHeader(result));
    const special = {
      html: renderHtmlCheck,
      spam: renderSpam,
      links: renderLinks,
      blacklist: renderBlacklist,
      auth: renderAuth,
    }[name];
    if (special && result.status !== "skipped") {
      try {
        special(panel, result);
      } catch (err) {
        panel.append(errorBox(err), genericDetails(result.details));
      }
    } else {
      panel.append(h("div", { class: "card" }, renderFindings(result.findings)));
      const g = genericDetails(result.details);
      if (g) panel.append(g);
    }
  }

  // ---------------------------------------------------------------- QA: HTML check matrix
  //
  // The html check stores details.clients (the target client ids), details.features (every
  // feature used, with its worst support), details.scores ({overall, by_client, by_family,
  // by_platform, by_category}) and one finding per feature some target client lacks: its
  // data.clients lists those clients only ({client, name, family, platform, support n|a|u,
  // version, notes}). The target clients the support data has no entry for are listed by id
  // in details.features[].no_data (and a finding's data.no_data): "no data", never supported.
  // A target client in neither list supports the feature. Reports stored before no_data
  // existed do not say which clients have no data; there data.support_counts shows a gap.

  const SUPPORT = {
    y: ["✓", "Supported", "y"],
    a: ["◐", "Partial", "a"],
    n: ["✕", "Not supported", "n"],
    u: ["?", "Unknown", "u"],
    none: ["–", "No data", "none"],
  };

  // Platform labels of rules/clients.yaml, for clients the report names nowhere.
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

  function pct(v) {
    return typeof v === "number" && Number.isFinite(v) ? `${Math.round(v)}%` : "no data";
  }

  /** Client id → display name: from the findings' client entries, else family + platform. */
  function htmlClientNames(details, findings) {
    const names = new Map();
    for (const f of findings) {
      const listed = isObj(f.data) && Array.isArray(f.data.clients) ? f.data.clients : [];
      for (const c of listed) if (isObj(c) && c.client && c.name) names.set(String(c.client), String(c.name));
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

  /** Client ids without data from a report list, or null when the report has no such list. */
  function idSet(list) {
    return Array.isArray(list) ? new Set(list.map(String)) : null;
  }

  /** One matrix row per feature: the findings (their affected clients), then the features
   *  every target client with data supports. Each row knows the clients without data
   *  (noData: null when the report predates that list). */
  function htmlRows(details, findings) {
    const rows = [];
    const seen = new Set();
    const features = new Map();
    for (const feature of Array.isArray(details.features) ? details.features : []) {
      if (isObj(feature) && feature.slug) features.set(String(feature.slug), feature);
    }
    for (const f of findings) {
      const listed = isObj(f.data) && Array.isArray(f.data.clients) ? f.data.clients : [];
      const affected = new Map();
      for (const c of listed) {
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

  const tip = h("div", { class: "tip", role: "tooltip", id: "matrix-tip", hidden: true });
  document.body.append(tip);
  function showTip(el) {
    tip.textContent = el.dataset.tip;
    tip.hidden = false;
    const r = el.getBoundingClientRect();
    tip.style.left = `${Math.min(r.left, innerWidth - 330)}px`;
    tip.style.top = `${r.bottom + 6}px`;
    el.setAttribute("aria-describedby", "matrix-tip");
  }
  function hideTip(el) {
    tip.hidden = true;
    el.removeAttribute("aria-describedby");
  }

  function supportCell(row, id, name, targets) {
    let key;
    let note = "";
    let version = "";
    if (row.affected.has(id)) ({ support: key, note, version } = row.affected.get(id));
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

  function renderHtmlCheck(panel, result) {
    const d = isObj(result.details) ? result.details : {};
    const findings = result.findings || [];
    const scores = isObj(d.scores) ? d.scores : {};
    const byClient = isObj(scores.by_client) ? scores.by_client : {};
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
    const perClient = targets.filter((id) => id in byClient).map((id) => [names.get(id) || id, byClient[id]]);
    if (perClient.length) {
      summary.append(
        h(
          "details",
          { id: "client-scores" },
          h("summary", {}, `Support per client (${perClient.length})`),
          scoreBars(perClient.sort((a, b) => (a[1] ?? 101) - (b[1] ?? 101)), "Support per client"),
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
                  ? (row.finding.locations || [])
                      .filter((l) => Number.isInteger(l.line))
                      .slice(0, 4)
                      .map((l) => locationButton(l))
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
    panel.append(h("div", { class: "card" }, renderFindings(findings)));
    const rest = { ...d };
    for (const k of ["clients", "features", "scores"]) delete rest[k];
    const g = genericDetails(rest);
    if (g) panel.append(g);
  }

  // ---------------------------------------------------------------- QA: spam

  function renderSpam(panel, result) {
    const d = result.details || {};
    const card = h("div", { class: "card", id: "spam-score" });
    if (typeof d.score === "number" && typeof d.threshold === "number") {
      const max = Math.max(d.threshold * 2, d.score, 1);
      const pct = Math.max(0, Math.min(100, (d.score / max) * 100));
      const mark = (d.threshold / max) * 100;
      card.append(
        h(
          "p",
          {},
          h("span", { class: "score-big" }, d.score.toFixed(1)),
          h("span", { class: "muted" }, ` / ${d.threshold.toFixed(1)} threshold · `),
          badge(d.is_spam ? "spam" : "not spam", d.is_spam ? "failed" : "passed"),
        ),
        h(
          "div",
          { class: "meter", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(max), "aria-valuenow": String(d.score), "aria-label": `Spam score ${d.score} against threshold ${d.threshold}` },
          h("span", { class: `fill${d.score >= d.threshold ? " over" : ""}`, style: `width:${pct}%` }),
          h("span", { class: "mark", style: `left:${mark}%` }),
        ),
        h("p", { class: "muted small" }, "Lower is better. Rules with negative points lower the score."),
      );
    } else {
      card.append(h("p", {}, `Outcome: ${d.outcome || "unknown"}`), d.response_message ? h("p", { class: "muted" }, d.response_message) : null);
    }
    panel.append(card);
    if (Array.isArray(d.rules) && d.rules.length) {
      const rules = [...d.rules].sort((a, b) => (b.score || 0) - (a.score || 0));
      panel.append(
        h(
          "div",
          { class: "card table-wrap" },
          h("h3", {}, `Rules (${rules.length})`),
          h(
            "table",
            { id: "spam-rules" },
            h("caption", { class: "visually-hidden" }, "SpamAssassin rules that fired"),
            h("thead", {}, h("tr", {}, h("th", { class: "num", scope: "col" }, "Points"), h("th", { scope: "col" }, "Rule"), h("th", { scope: "col" }, "Description"))),
            h(
              "tbody",
              {},
              rules.map((r) =>
                h("tr", {}, h("td", { class: "num" }, typeof r.score === "number" ? r.score.toFixed(1) : String(r.score ?? "")), h("td", { class: "mono" }, r.name), h("td", {}, r.description || "")),
              ),
            ),
          ),
        ),
      );
    }
    panel.append(h("div", { class: "card" }, renderFindings(result.findings)));
  }

  // ---------------------------------------------------------------- QA: links

  function renderLinks(panel, result) {
    const d = result.details || {};
    const links = Array.isArray(d.links) ? d.links : [];
    panel.append(
      h(
        "div",
        { class: "card" },
        h(
          "p",
          {},
          `${d.unique ?? links.length} distinct URL(s), ${d.broken ?? 0} broken`,
          d.http_validated ? ` · ${d.http_checked ?? 0} checked over HTTP` : ` · not validated over HTTP${d.http_skipped_reason ? ` (${d.http_skipped_reason})` : ""}`,
        ),
      ),
    );
    if (links.length) {
      panel.append(
        h(
          "div",
          { class: "card table-wrap" },
          h(
            "table",
            { id: "links-table" },
            h("caption", { class: "visually-hidden" }, "Links found in the message"),
            h("thead", {}, h("tr", {}, ["URL", "Kind", "Status", "Redirects", "Error", "Where"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              links.map((l) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "break" }, externalLink(l.url), (l.texts || []).length ? h("div", { class: "muted small" }, `“${l.texts.join("”, “")}”`) : null),
                  h("td", {}, l.kind || ""),
                  h("td", {}, l.ok === true ? badge(String(l.status_code ?? "ok"), "y") : l.ok === false ? badge(String(l.status_code ?? "failed"), "n") : badge("not checked", "u")),
                  h(
                    "td",
                    { class: "break small" },
                    (l.redirects || []).length
                      ? h("ol", {}, l.redirects.map((r) => h("li", {}, `${r.status_code} ${r.url}`)), l.final_url ? h("li", {}, `→ ${l.final_url}`) : null)
                      : "",
                  ),
                  h("td", { class: "break" }, l.error || ""),
                  h("td", {}, (l.locations || []).filter((x) => Number.isInteger(x.line)).slice(0, 3).map(locationButton)),
                ),
              ),
            ),
          ),
        ),
      );
    }
    panel.append(h("div", { class: "card" }, renderFindings(result.findings)));
  }

  // ---------------------------------------------------------------- QA: blacklists, auth

  // The blacklist check's details: {ip, ip_note, domains, results: [{name, zone, kind, purpose,
  // target, query, status: listed|clean|error|unusable, listed, codes: [{code, meanings}],
  // reason, error, delist_url, response_ms}], zones: [{name, zone, usable, problem}], listed,
  // errors, lists_version}.
  const LIST_STATUS = { listed: "n", clean: "y", error: "a", unusable: "u" };

  function renderBlacklist(panel, result) {
    const d = isObj(result.details) ? result.details : {};
    const rows = Array.isArray(d.results) ? d.results.filter(isObj) : [];
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
      const order = { listed: 0, error: 1, unusable: 2, clean: 3 };
      const sorted = [...rows].sort((a, b) => (order[a.status] ?? 4) - (order[b.status] ?? 4));
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
    const broken = (Array.isArray(d.zones) ? d.zones : []).filter((z) => isObj(z) && z.usable === false);
    if (broken.length) {
      panel.append(
        h(
          "div",
          { class: "card" },
          h("h3", {}, "Lists that could not be used"),
          h("ul", {}, broken.map((z) => h("li", { class: "break" }, h("strong", {}, z.name || z.zone), ` (${z.zone}): ${z.problem || "unusable"}`))),
        ),
      );
    }
    panel.append(h("div", { class: "card" }, renderFindings(result.findings)));
  }

  // The auth check's details: {spf: {result, identity, domain, sender, ip, record, matched,
  // reason, dns_lookups, void_lookups, chain}, dkim: [{index, domain, selector, algorithm,
  // key_bits, identity, body_length, signed_headers, result, reason, aligned}], dkim_result,
  // dmarc: {result, from_domain, organizational_domain, record_domain, record, policy,
  // subdomain_policy, applied_policy, percent, adkim, aspf, spf_aligned, dkim_aligned, rua,
  // reason}, arc: {result, instances, reason}, posture: {from_domain_mx, ptr_names, fcrdns,
  // iprev}, authentication_results}.
  function resultBadge(value) {
    const s = String(value ?? "none").toLowerCase();
    const kind = s === "pass" ? "y" : ["fail", "permerror"].includes(s) ? "n" : ["softfail", "neutral", "temperror", "policy"].includes(s) ? "a" : "u";
    return badge(s, kind, `Result ${s}`);
  }

  function yesNo(value, label) {
    return badge(`${label}: ${value ? "yes" : "no"}`, value ? "y" : "n");
  }

  function facts(pairs) {
    const shown = pairs.filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length));
    if (!shown.length) return null;
    return h(
      "dl",
      { class: "msg-meta" },
      shown.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "break" }, v instanceof Node ? v : Array.isArray(v) ? v.join(", ") : String(v))]),
    );
  }

  function authCard(name, title, result, reason, ...body) {
    return h(
      "div",
      { class: "card", "data-auth": name },
      h("h3", {}, title),
      h("div", { class: "row" }, resultBadge(result), reason ? h("span", { class: "reason" }, String(reason)) : null),
      body,
    );
  }

  function renderAuth(panel, result) {
    const d = isObj(result.details) ? result.details : {};
    const spf = isObj(d.spf) ? d.spf : null;
    const dmarc = isObj(d.dmarc) ? d.dmarc : null;
    const arc = isObj(d.arc) ? d.arc : null;
    const posture = isObj(d.posture) ? d.posture : null;
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
    if (arc) panel.append(authCard("arc", "ARC", arc.result, arc.reason, facts([["Instances", arc.instances]])));
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
    panel.append(h("div", { class: "card" }, renderFindings(result.findings)));
  }


  // ---------------------------------------------------------------- audits

  const AUDIT_CHECKS = ["headers", "html", "hygiene", "links", "spam", "auth", "blacklist"];
  const AUDIT_DEFAULT = ["headers", "html", "hygiene", "links"];
  const AUDIT_RUNNING = ["queued", "running"];
  const AUDIT_LISTS = [
    ["top_rules", "Most frequent failing rules", "Rule"],
    ["html_unsupported", "HTML/CSS features some target client lacks", "Feature"],
    ["blacklisted", "Blacklisted IPs and domains", "Target"],
    ["auth_failures", "Authentication failures by domain", "Domain"],
    ["broken_link_hosts", "Broken links by host", "Host"],
  ];

  function inboxName(id) {
    const box = inboxes.find((b) => b.id === id);
    return box ? box.name : `Inbox ${id}`;
  }

  function auditBadge(audit) {
    const kind = { done: "passed", failed: "failed", cancelled: "skipped" }[audit.status] || "pending";
    return badge(audit.status, kind, `Audit ${audit.status}`);
  }

  function auditProgress(audit) {
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

  async function showAudits(params) {
    startView("audits");
    document.title = "Audits · mailqa";
    await loadNav(); // inboxes created since the page loaded are offered too
    if (current.view !== "audits") return;
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
      const checks = [...form.querySelectorAll('input[name="check"]:checked')].map((i) => i.value);
      if (!checks.length) {
        status.textContent = "Choose at least one check.";
        return;
      }
      start.disabled = true;
      status.textContent = "Starting…";
      try {
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
      const audits = (await api("/api/v1/audits")).data;
      if (current.view !== "audits") return;
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
            [...audits].sort((a, b) => b.id - a.id).map((a) =>
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

  async function showAudit(id) {
    startView("audit", { id });
    markNav("audits");
    document.title = `Audit #${id} · mailqa`;
    const head = h("div", { class: "inbox-head" });
    const progress = h("div", { id: "audit-progress", "aria-live": "polite" });
    const body = h("div", { id: "audit-summary" });
    main.append(h("p", { class: "small" }, h("a", { href: "#/audits" }, "← All audits")), head, progress, body);
    let timer = null;
    cleanup = () => clearTimeout(timer);
    const poll = async () => {
      let audit;
      try {
        audit = (await api(`/api/v1/audits/${id}`)).data;
      } catch (err) {
        if (current.view === "audit" && current.id === id) clear(body).append(errorBox(err));
        return;
      }
      if (current.view !== "audit" || current.id !== id) return;
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

  function renderAuditSummary(body, audit) {
    const s = audit.summary;
    clear(body);
    if (!s || !s.messages) {
      body.append(h("p", { class: "muted" }, AUDIT_RUNNING.includes(audit.status) ? "Waiting for the first results…" : "No messages were audited."));
      return;
    }
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

  async function renderAuditMessages(body, audit) {
    let page;
    try {
      page = (await api(`/api/v1/audits/${audit.id}/messages?per_page=100`)).data;
    } catch (err) {
      body.append(errorBox(err));
      return;
    }
    if (current.view !== "audit" || current.id !== audit.id) return;
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

  // ---------------------------------------------------------------- start

  window.addEventListener("hashchange", () => route());
  loadNav().then(() => route());
})();
