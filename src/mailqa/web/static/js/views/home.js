// #/ : the visible inboxes as cards.

import { fmtSize, h } from "../dom.js";
import { inboxes, markNav } from "../nav.js";
import { main, startView } from "../view.js";

export function showHome() {
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
