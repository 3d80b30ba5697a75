// The sidebar: the visible inboxes grouped by project, and which entry is the current page.

import { api } from "./api.js";
import { byId, clear, errorBox, fmtSize, h } from "./dom.js";

/** @typedef {import("./api.js").Inbox} Inbox */
/** @typedef {import("./api.js").Project} Project */
/** @template T @typedef {import("./api.js").Answer<T>} Answer */

/** The inboxes the token sees, as last loaded. @type {Inbox[]} */
export let inboxes = [];
/** The projects the token sees, as last loaded. @type {Project[]} */
export let projects = [];

/** Load projects and inboxes and draw the sidebar. */
export async function loadNav() {
  const tree = byId("nav-tree");
  try {
    /** @type {[Answer<Project[]>, Answer<Inbox[]>]} */
    const [shown, boxes] = await Promise.all([api("/api/v1/projects"), api("/api/v1/inboxes")]);
    inboxes = boxes.data;
    projects = shown.data;
    const names = new Map(projects.map((p) => [p.id, p.name]));
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
 * Mark the sidebar entry of the page shown: an inbox (also for its messages), the audits, the
 * webhooks, or none.
 * @param {number | "audits" | "webhooks" | null} [current]
 */
export function markNav(current) {
  for (const a of document.querySelectorAll("#nav-tree a.inbox")) {
    if (!(a instanceof HTMLElement)) continue;
    if (String(current) === a.dataset.inbox) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  for (const tool of /** @type {const} */ (["audits", "webhooks"])) {
    const link = document.getElementById(`nav-${tool}`);
    if (!link) continue;
    if (current === tool) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
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
