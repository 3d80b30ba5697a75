// #/webhooks : subscribe a URL to a project's or an inbox's events, and manage the
// subscriptions: enable or disable, rotate the secret, delete, read the delivery log and
// deliver an event again (see docs/webhooks.md).

import { api } from "../api.js";
import { badge, clear, confirmDialog, errorBox, fmtDate, h, toast } from "../dom.js";
import { inboxName, inboxes, loadNav, markNav, projects } from "../nav.js";
import { isCurrent, main, startView } from "../view.js";

/** @typedef {import("../api.js").Webhook} Webhook */
/** @typedef {import("../api.js").WebhookEvent} WebhookEvent */
/** @template T @typedef {import("../api.js").Answer<T>} Answer */

const EVENTS = ["message.received", "report.completed", "audit.completed"];

/** @type {Record<string, string>} */
const EVENT_BADGES = { delivered: "passed", failed: "failed", pending: "pending" };

/** @param {Webhook} hook */
function scopeName(hook) {
  if (hook.inbox_id !== null) return `Inbox ${inboxName(hook.inbox_id)}`;
  const project = projects.find((p) => p.id === hook.project_id);
  return `Project ${project ? project.name : hook.project_id}`;
}

/**
 * The secret, shown once (on creation or rotation).
 * @param {Webhook} hook
 */
function secretNotice(hook) {
  return h(
    "div",
    { class: "card", role: "status", id: "webhook-secret" },
    h("p", {}, `Signing secret of webhook #${hook.id} (shown once: keep it now):`),
    h("p", {}, h("code", { class: "break" }, hook.secret || "")),
  );
}

/** @param {WebhookEvent[]} events @param {number} hookId @param {HTMLElement} into */
function drawLog(events, hookId, into) {
  clear(into);
  if (!events.length) {
    into.append(h("p", { class: "muted" }, "No events yet."));
    return;
  }
  into.append(
    h(
      "table",
      { class: "card webhook-log" },
      h("caption", { class: "sr-only" }, `Deliveries of webhook ${hookId}, newest first`),
      h("thead", {}, h("tr", {}, ["Event", "Type", "Status", "Attempts", "Last attempt", ""].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        events.map((e) => {
          const last = e.log[e.log.length - 1];
          const lastText = last
            ? `${fmtDate(last.attempted_at)} · ${last.status_code ?? last.error ?? ""} · ${Math.round(last.latency_ms)} ms`
            : "—";
          const again = h("button", { type: "button", class: "small" }, "Redeliver");
          again.addEventListener("click", async () => {
            again.disabled = true;
            try {
              await api(`/api/v1/webhooks/${hookId}/events/${e.id}/redeliver`, { method: "POST" });
              toast(`Event ${e.webhook_id_header} queued again`);
            } catch (err) {
              into.append(errorBox(err));
            }
          });
          return h(
            "tr",
            {},
            h("td", {}, h("code", {}, e.webhook_id_header)),
            h("td", {}, e.type),
            h("td", {}, badge(e.status, EVENT_BADGES[e.status] || "pending")),
            h("td", {}, String(e.attempts)),
            h("td", { class: "small" }, lastText, last && last.response_excerpt ? h("div", { class: "muted break" }, last.response_excerpt) : null),
            h("td", {}, again),
          );
        }),
      ),
    ),
  );
}

/** @param {Webhook} hook @param {HTMLElement} notices @param {() => void} redraw */
function hookRow(hook, notices, redraw) {
  const log = h("div", { class: "webhook-log-box" });
  const toggle = h("button", { type: "button" }, hook.enabled ? "Disable" : "Enable");
  toggle.addEventListener("click", async () => {
    try {
      await api(`/api/v1/webhooks/${hook.id}`, { method: "PATCH", body: { enabled: !hook.enabled } });
      redraw();
    } catch (err) {
      notices.append(errorBox(err));
    }
  });
  const rotate = h("button", { type: "button" }, "Rotate secret");
  rotate.addEventListener("click", async () => {
    try {
      /** @type {Answer<Webhook>} */
      const res = await api(`/api/v1/webhooks/${hook.id}/rotate_secret`, { method: "POST" });
      clear(notices).append(secretNotice(res.data));
    } catch (err) {
      notices.append(errorBox(err));
    }
  });
  const remove = h("button", { type: "button", class: "danger" }, "Delete");
  remove.addEventListener("click", async () => {
    if (!(await confirmDialog(`Delete webhook #${hook.id} and its delivery log?`))) return;
    try {
      await api(`/api/v1/webhooks/${hook.id}`, { method: "DELETE" });
      redraw();
    } catch (err) {
      notices.append(errorBox(err));
    }
  });
  const show = h("button", { type: "button" }, "Deliveries");
  show.addEventListener("click", async () => {
    try {
      /** @type {Answer<WebhookEvent[]>} */
      const res = await api(`/api/v1/webhooks/${hook.id}/events?limit=50`);
      drawLog(res.data, hook.id, log);
    } catch (err) {
      clear(log).append(errorBox(err));
    }
  });
  const state = hook.enabled
    ? badge("enabled", "passed")
    : h("span", {}, badge("disabled", "failed"), hook.disabled_reason ? h("div", { class: "muted small break" }, hook.disabled_reason) : null);
  return h(
    "li",
    { class: "card webhook", "data-webhook": hook.id },
    h("p", {}, h("strong", {}, `#${hook.id} `), h("code", { class: "break" }, hook.url)),
    h("p", { class: "muted small" }, `${scopeName(hook)} · ${hook.events.join(", ")}`),
    h("div", { class: "row" }, state, toggle, rotate, show, remove),
    log,
  );
}

export async function showWebhooks() {
  startView("webhooks");
  document.title = "Webhooks · mailqa";
  await loadNav();
  if (!isCurrent("webhooks")) return;
  markNav("webhooks");
  const notices = h("div", { id: "webhook-notices" });
  const url = h("input", { type: "url", id: "webhook-url", required: true, placeholder: "https://ci.example.com/hooks/mailqa", size: 48 });
  const scope = h(
    "select",
    { id: "webhook-scope" },
    projects.map((p) => h("option", { value: `project:${p.id}` }, `Project ${p.name} (every inbox)`)),
    inboxes.map((b) => h("option", { value: `inbox:${b.id}` }, `Inbox ${b.name}`)),
  );
  const boxes = EVENTS.map((name) =>
    h("label", { class: "check-option" }, h("input", { type: "checkbox", name: "event", value: name, checked: name !== "audit.completed" }), ` ${name}`),
  );
  const status = h("p", { class: "muted small", role: "status" });
  const form = h(
    "form",
    { class: "card", id: "webhook-form", "aria-labelledby": "webhook-form-title" },
    h("h2", { id: "webhook-form-title" }, "New webhook"),
    h("p", { class: "muted" }, "Signed POSTs (Standard Webhooks) when mail arrives, a report is ready or an audit finishes."),
    h("p", {}, h("label", { for: "webhook-url" }, "URL "), url),
    h("p", {}, h("label", { for: "webhook-scope" }, "Events of "), scope),
    h("fieldset", {}, h("legend", {}, "Events"), h("div", { class: "row" }, boxes)),
    h("div", { class: "row" }, h("button", { type: "submit", id: "webhook-create" }, "Create webhook"), status),
  );
  const list = h("ul", { id: "webhook-list", class: "plain" });

  async function redraw() {
    try {
      /** @type {Answer<Webhook[]>} */
      const res = await api("/api/v1/webhooks");
      if (!isCurrent("webhooks")) return;
      clear(list);
      if (!res.data.length) list.append(h("li", { class: "muted" }, "No webhooks yet."));
      for (const hook of res.data) list.append(hookRow(hook, notices, redraw));
    } catch (err) {
      clear(list).append(errorBox(err));
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const checked = /** @type {NodeListOf<HTMLInputElement>} */ (form.querySelectorAll('input[name="event"]:checked'));
    const events = [...checked].map((i) => i.value);
    if (!events.length) {
      status.textContent = "Choose at least one event.";
      return;
    }
    const [kind, id] = scope.value.split(":");
    /** @type {Record<string, unknown>} */
    const body = { url: url.value, events };
    body[kind === "project" ? "project_id" : "inbox_id"] = Number(id);
    try {
      /** @type {Answer<Webhook>} */
      const res = await api("/api/v1/webhooks", { method: "POST", body });
      status.textContent = "";
      url.value = "";
      clear(notices).append(secretNotice(res.data));
      await redraw();
    } catch (err) {
      clear(notices).append(errorBox(err));
    }
  });
  main.append(h("h1", {}, "Webhooks"), projects.length || inboxes.length ? form : h("p", { class: "muted" }, "No project or inbox to subscribe to."), notices, h("h2", {}, "Subscriptions"), list);
  await redraw();
}
