// DOM helpers. Every piece of message or report data reaches the DOM as text (textContent,
// attribute values set one by one); nothing built from data is ever parsed as HTML.

/** A child of h(): nodes as they are, scalars as text; null, undefined and false are skipped.
 *  @typedef {Node | string | number | boolean | null | undefined | Child[]} Child */

/** Attributes of h(): class, style, text, on<Event> handlers, any other attribute.
 *  null, undefined and false leave an attribute out; true sets it empty.
 *  @typedef {Record<string, unknown>} Attrs */

/**
 * The element with this id, which the page shell always has.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from the page`);
  return el;
}

/**
 * Build an element. attrs: class, text, on<Event> handlers, other attributes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key === "style") el.style.cssText = String(value); // CSSOM: allowed by the page's CSP
    else if (key === "text") el.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), /** @type {EventListener} */ (value));
    } else if (key === "href" || key === "src") {
      const url = safeUrl(value);
      if (url !== null) el.setAttribute(key, url);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/**
 * Append children (nested lists flattened) as nodes or text.
 * @template {Element} E
 * @param {E} el
 * @param {Child[]} children
 * @returns {E}
 */
export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Only our own paths, in-page anchors and http(s) URLs become links.
 * @param {unknown} value
 * @returns {string | null}
 */
export function safeUrl(value) {
  const s = String(value).trim();
  if (s.startsWith("#") || (s.startsWith("/") && !s.startsWith("//"))) return s;
  if (/^https?:\/\//i.test(s)) return s;
  return null;
}

/**
 * @template {Element} E
 * @param {E} el
 * @returns {E}
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/**
 * A link opened in a new tab for http(s) URLs; anything else as plain text.
 * @param {string} url
 * @param {string} [label]
 * @returns {HTMLElement}
 */
export function externalLink(url, label) {
  const safe = safeUrl(url);
  if (safe === null || !/^https?:/i.test(safe)) return h("span", { class: "break", text: label || url });
  return h("a", { href: safe, target: "_blank", rel: "noopener noreferrer", class: "break" }, label || url);
}

/**
 * @param {string} text
 * @param {string} kind the b-* class: a status, a severity, a support key
 * @param {string | null} [label] its spoken name, when the text alone is not enough
 * @returns {HTMLSpanElement}
 */
export function badge(text, kind, label) {
  return h("span", { class: `badge b-${kind}`, "aria-label": label || null }, text);
}

/**
 * @param {unknown} n bytes
 * @returns {string}
 */
export function fmtSize(n) {
  if (typeof n !== "number") return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

/**
 * @param {string | null | undefined} s an ISO date
 * @returns {string}
 */
export function fmtDate(s) {
  const d = new Date(/** @type {string} */ (s));
  return Number.isNaN(d.getTime()) ? String(s || "") : d.toLocaleString();
}

/**
 * A time element: the ISO value as its datetime, shown in the browser's locale.
 * @param {string} iso
 * @returns {HTMLTimeElement}
 */
export function timeEl(iso) {
  return h("time", { datetime: iso }, fmtDate(iso));
}

/**
 * @param {unknown} score
 * @returns {"pending" | "good" | "fair" | "poor"}
 */
export function scoreKind(score) {
  if (typeof score !== "number") return "pending";
  if (score >= 80) return "good";
  if (score >= 50) return "fair";
  return "poor";
}

/**
 * A plain object (not null, not an array). Its fields are read defensively: reports stored
 * by older versions may lack or reshape them.
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
export function isObj(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;

/** @param {string} text */
export function toast(text) {
  const el = byId("toast");
  el.textContent = text;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 2500);
}

/**
 * Ask in the page's dialog; resolves true when confirmed.
 * @param {string} text
 * @returns {Promise<boolean>}
 */
export function confirmDialog(text) {
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm"));
  byId("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    byId("confirm-ok").focus();
  });
}

/**
 * @param {unknown} err an Error or a message
 * @returns {HTMLParagraphElement}
 */
export function errorBox(err) {
  return h("p", { class: "alert", role: "alert" }, `Error: ${isObj(err) && err.message ? err.message : err}`);
}
