// The Previews tab: the message's emulated renders side by side, each opening full size.

import { ApiFailure, api } from "../api.js";
import { clear, errorBox, h } from "../dom.js";

/**
 * @typedef {object} RenderOut
 * @property {string} variant
 * @property {string} label
 * @property {"ok" | "errored"} status
 * @property {string | null} error
 * @property {string | null} url
 * @property {string | null} fold_url
 * @property {number} width
 * @property {number} height
 * @property {boolean} truncated
 * @property {string[]} warnings
 */

/**
 * @typedef {object} RendersOut
 * @property {"on" | "off" | "unavailable"} state
 * @property {string} reason
 * @property {"none" | "pending" | "done" | "no-html" | "errored"} status
 * @property {RenderOut[]} renders
 * @property {string[]} warnings
 */

const POLL_MS = 1500;
const EMULATED_NOTE =
  "Emulated previews: Chromium lays out the HTML as each client would be given it (its CSS support " +
  "from caniemail, its sanitiser's known rules). They are not screenshots of the clients themselves.";

/**
 * Draw the Previews tab of message id into panel (polling while renders are pending).
 * @param {HTMLElement} panel
 * @param {number} id
 */
export async function renderPreviews(panel, id) {
  /** @type {RendersOut} */
  let data;
  try {
    data = /** @type {RendersOut} */ ((await api(`/api/v1/messages/${id}/renders`)).data);
  } catch (err) {
    panel.append(errorBox(err instanceof ApiFailure && err.status === 404 ? "this message is gone" : err));
    return;
  }
  clear(panel);
  panel.append(h("p", { class: "muted", id: "previews-note" }, EMULATED_NOTE));
  if (data.state !== "on") {
    panel.append(h("p", { class: "muted", id: "previews-state" }, `Render previews are ${data.reason}.`));
    return;
  }
  if (data.status === "no-html") {
    panel.append(h("p", { class: "muted" }, "This message has no HTML part to render."));
    return;
  }
  if (data.status === "none" || data.status === "pending") {
    panel.append(h("p", { class: "muted", id: "previews-state", role: "status" }, "Rendering…"));
    if (data.status === "none") await api(`/api/v1/messages/${id}/renders`, { method: "POST" }).catch(() => null);
    setTimeout(() => {
      if (panel.isConnected) void renderPreviews(panel, id);
    }, POLL_MS);
    return;
  }
  if (data.warnings.length) {
    panel.append(h("ul", { class: "alert", id: "previews-warnings" }, data.warnings.map((w) => h("li", {}, w))));
  }
  const zoom = h("dialog", { class: "preview-zoom", id: "preview-zoom", "aria-label": "Render, full size" });
  const grid = h(
    "div",
    { class: "preview-grid", id: "preview-grid" },
    data.renders.map((r) => figure(r, zoom)),
  );
  panel.append(grid, zoom);
}

/**
 * @param {RenderOut} r
 * @param {HTMLDialogElement} zoom
 */
function figure(r, zoom) {
  const caption = h("figcaption", {}, h("strong", {}, r.variant), " ", h("span", { class: "muted" }, r.label));
  if (r.status !== "ok" || !r.url || !r.fold_url) {
    return h("figure", { class: "preview errored", "data-variant": r.variant }, h("p", { class: "alert" }, `Render failed: ${r.error || "unknown error"}`), caption);
  }
  const full = r.url;
  const open = () => {
    clear(zoom);
    zoom.append(
      h("form", { method: "dialog" }, h("button", { type: "submit", class: "close" }, "Close")),
      h("p", {}, r.label, r.truncated ? " (cut at the maximum height)" : ""),
      h("img", { src: full, alt: `${r.variant}, full length (${r.label})` }),
    );
    zoom.showModal();
  };
  return h(
    "figure",
    { class: "preview", "data-variant": r.variant },
    h(
      "button",
      { type: "button", class: "preview-open", onclick: open, "aria-label": `Open ${r.variant} full size` },
      h("img", { src: r.fold_url, alt: `${r.variant}, above the fold (${r.label})`, loading: "lazy", width: String(Math.min(r.width, 300)) }),
    ),
    caption,
  );
}
