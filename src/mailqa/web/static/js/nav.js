// The sidebar: the visible inboxes grouped by project, and which entry is the current page.

import { api } from "./api.js";
import { byId, clear, errorBox, fmtSize, h } from "./dom.js";

/** @typedef {import("./api.js").Inbox} Inbox */
/** @typedef {import("./api.js").Project} Project */
/** @template T @typedef {import("./api.js").Answer<T>} Answer */

/** The inboxes the token sees, as last loaded. @type {Inbox[]} */
export let inboxes = [];

/** Load projects and inboxes and draw the sidebar. */
export async function loadNav() {
  const tree = byId("nav-tree");
  try {
    /** @type {[Answer<Project[]>, Answer<Inbox[]>]} */
    const [projects, boxes] = await Promise.all([api("/api/v1/projects"), api("/api/v1/inboxes")]);
    inboxes = boxes.data;
    const names = new Map(projects.data.map((p) => [p.id, p.name]));
    /** @type {Map<number, Inbox[]>} */
    const byProject = new Map();
    for (const box of inboxes) {
      let list = byProject.get(box.project_id);
      if (!list) byProject.set(box.project_id, (list = []));
      list.push(box);
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

/**
 * Mark the sidebar entry of the page shown: an inbox (also for its messages), the audits, or none.
 * @param {number | "audits" | null} [current]
 */
export function markNav(current) {
  for (const a of document.querySelectorAll("#nav-tree a.inbox")) {
    if (!(a instanceof HTMLElement)) continue;
    if (String(current) === a.dataset.inbox) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const audits = document.getElementById("nav-audits");
  if (audits) {
    if (current === "audits") audits.setAttribute("aria-current", "page");
    else audits.removeAttribute("aria-current");
  }
}

/**
 * @param {number} id
 * @returns {string}
 */
export function inboxName(id) {
  const box = inboxes.find((b) => b.id === id);
  return box ? box.name : `Inbox ${id}`;
}
