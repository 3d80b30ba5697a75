// The spam check's panel: spamd's score against its threshold, and the rules that fired.

import { badge, h } from "../dom.js";
import { renderFindings } from "./common.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("./common.js").PanelContext} PanelContext */

/**
 * @typedef {object} SpamRule
 * @property {string} name
 * @property {number | null} [score]
 * @property {string} [description]
 */

/**
 * The spam check's details.
 * @typedef {object} SpamDetails
 * @property {number} [score]
 * @property {number} [threshold]
 * @property {boolean} [is_spam]
 * @property {string} [outcome]
 * @property {string} [response_message]
 * @property {SpamRule[]} [rules]
 */

/**
 * @param {HTMLElement} panel
 * @param {CheckResult} result
 * @param {PanelContext} ctx
 */
export function renderSpam(panel, result, ctx) {
  const d = /** @type {SpamDetails} */ (result.details || {});
  const card = h("div", { class: "card", id: "spam-score" });
  if (typeof d.score === "number" && typeof d.threshold === "number") {
    const max = Math.max(d.threshold * 2, d.score, 1);
    const pct = Math.max(0, Math.min(100, (d.score / max) * 100));
    const mark = (d.threshold / max) * 100;
    card.append(
      h(
        "p",
        {},
        h("span", { class: "score-big" }, d.score.toFixed(1)),
        h("span", { class: "muted" }, ` / ${d.threshold.toFixed(1)} threshold · `),
        badge(d.is_spam ? "spam" : "not spam", d.is_spam ? "failed" : "passed"),
      ),
      h(
        "div",
        { class: "meter", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(max), "aria-valuenow": String(d.score), "aria-label": `Spam score ${d.score} against threshold ${d.threshold}` },
        h("span", { class: `fill${d.score >= d.threshold ? " over" : ""}`, style: `width:${pct}%` }),
        h("span", { class: "mark", style: `left:${mark}%` }),
      ),
      h("p", { class: "muted small" }, "Lower is better. Rules with negative points lower the score."),
    );
  } else {
    card.append(h("p", {}, `Outcome: ${d.outcome || "unknown"}`));
    if (d.response_message) card.append(h("p", { class: "muted" }, d.response_message));
  }
  panel.append(card);
  if (Array.isArray(d.rules) && d.rules.length) {
    const rules = [...d.rules].sort((a, b) => (b.score || 0) - (a.score || 0));
    panel.append(
      h(
        "div",
        { class: "card table-wrap" },
        h("h3", {}, `Rules (${rules.length})`),
        h(
          "table",
          { id: "spam-rules" },
          h("caption", { class: "visually-hidden" }, "SpamAssassin rules that fired"),
          h("thead", {}, h("tr", {}, h("th", { class: "num", scope: "col" }, "Points"), h("th", { scope: "col" }, "Rule"), h("th", { scope: "col" }, "Description"))),
          h(
            "tbody",
            {},
            rules.map((r) =>
              h("tr", {}, h("td", { class: "num" }, typeof r.score === "number" ? r.score.toFixed(1) : String(r.score ?? "")), h("td", { class: "mono" }, r.name), h("td", {}, r.description || "")),
            ),
          ),
        ),
      ),
    );
  }
  panel.append(h("div", { class: "card" }, renderFindings(result.findings, ctx)));
}
