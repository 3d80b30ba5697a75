// mailqa web UI: one page, hash routes, the JSON API with the session cookie. This module
// wires the page shell (theme, sign-out, who is signed in) and starts the router; the views
// live in js/ (dom, api, nav, router, views/, qa/ — see docs/web-ui.md).

import { api, signOut } from "./js/api.js";
import { byId } from "./js/dom.js";
import { loadNav } from "./js/nav.js";
import { route } from "./js/router.js";
import { installTabKeys } from "./js/views/message.js";

/** @typedef {import("./js/api.js").Session} Session */

const themeButton = byId("theme-toggle");

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

byId("logout").addEventListener("click", signOut);

/** @type {Promise<import("./js/api.js").Answer<Session>>} */
const session = api("/ui/session");
session
  .then(({ data }) => {
    byId("who").textContent = `${data.name}${data.is_admin ? " · admin" : ""}`;
  })
  .catch(() => {});

installTabKeys();
window.addEventListener("hashchange", () => route());
loadNav().then(() => route());
