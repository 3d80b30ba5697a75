// The view on screen: which one (and of what), what to stop when it is left, and the
// address (#/view/id/...) that chose it.

import { byId, clear } from "./dom.js";

/** Where views draw. */
export const main = byId("main");

/** @typedef {"home" | "inbox" | "message" | "audits" | "audit" | "webhooks"} ViewName */

/** @type {{ view: ViewName | null, id: number | null }} */
let current = { view: null, id: null };
let cleanup = () => {};

/**
 * Leave the current view (running its cleanup) and start drawing another on an empty page.
 * @param {ViewName} view
 * @param {number | null} [id] the inbox, message or audit shown
 */
export function startView(view, id = null) {
  cleanup();
  cleanup = () => {};
  current = { view, id };
  clear(main);
}

/**
 * Whether this view (of this id) is still the one on screen; work that awaited something
 * checks it before drawing.
 * @param {ViewName} view
 * @param {number | null} [id]
 */
export function isCurrent(view, id = null) {
  return current.view === view && current.id === id;
}

/**
 * What to stop when the view is left (an event stream, a poll).
 * @param {() => void} fn
 */
export function onLeave(fn) {
  cleanup = fn;
}

/**
 * The address after the #: its path segments and query parameters.
 * @returns {{ parts: string[], params: URLSearchParams }}
 */
export function parseRoute() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  return { parts, params: new URLSearchParams(query || "") };
}
