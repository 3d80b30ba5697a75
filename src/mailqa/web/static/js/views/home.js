// #/ : the visible inboxes as cards: their names as typed, message and unread counts, size.

import { fmtSize, h } from "../dom.js";
import { inboxes, loadNav, markNav } from "../nav.js";
import { isCurrent, main, startView } from "../view.js";

/**
 * @param {number} n
 * @param {string} noun
 */
function plural(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export async function showHome() {
  startView("home");
  markNav(null);
  document.title = "mailqa";
  main.append(h("h1", {}, "Inboxes"));
  await loadNav(); // the counts as they are now, not as when the page loaded
  if (!isCurrent("home")) return;
  markNav(null);
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
          h(
            "span",
            { class: "row counts" },
            h("span", { class: "message-count" }, plural(box.message_count, "message")),
            h("span", { class: box.unread_count ? "badge b-info unread-count" : "muted small unread-count" }, box.unread_count ? `${box.unread_count} unread` : "all read"),
          ),
          h("span", { class: "muted small" }, `${fmtSize(box.used_bytes)} of ${fmtSize(box.quota_bytes)}`),
          h("code", { class: "small" }, `${box.smtp.host}:${box.smtp.port}`),
        ),
      ),
    ),
  );
}
