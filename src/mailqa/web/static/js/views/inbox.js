// #/inbox/ID[?q=search] : the message list, live over the inbox's event stream.

import { api } from "../api.js";
import { badge, clear, confirmDialog, errorBox, fmtDate, fmtSize, h, scoreKind, toast } from "../dom.js";
import { inboxes, loadNav, markNav } from "../nav.js";
import { isCurrent, main, onLeave, startView } from "../view.js";

/** @typedef {import("../api.js").MessagePage} MessagePage */
/** @typedef {import("../api.js").Count} Count */

const PER_PAGE = 50;

/**
 * @param {number} inboxId
 * @param {URLSearchParams} params
 */
export async function showInbox(inboxId, params) {
  if (!inboxes.some((b) => b.id === inboxId)) await loadNav(); // created since the page loaded
  startView("inbox", inboxId);
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

  /** Ids on the page last drawn (null before the first), to mark what is new. @type {Set<number> | null} */
  let seen = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
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
      /** @type {import("../api.js").Answer<MessagePage>} */
      const { data } = await api(`/api/v1/inboxes/${inboxId}/messages?${query}`);
      if (!isCurrent("inbox", inboxId)) return;
      renderList(data);
    } catch (err) {
      clear(list).append(h("li", {}, errorBox(err)));
    }
    list.setAttribute("aria-busy", "false");
  }

  /** @param {MessagePage} data */
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
    const i = document.activeElement ? links.indexOf(document.activeElement) : -1;
    if (i < 0) return;
    const next = links[i + (ev.key === "ArrowDown" ? 1 : -1)];
    if (next instanceof HTMLElement) {
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
    /** @type {import("../api.js").Answer<Count>} */
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
  onLeave(() => events.close());
}
