// The links check's panel: every distinct URL, its HTTP status, redirects and where it is.

import { badge, externalLink, h } from "../dom.js";
import { locatedLines, locationButton, renderFindings } from "./common.js";

/** @typedef {import("../api.js").CheckResult} CheckResult */
/** @typedef {import("../api.js").Location} Location */
/** @typedef {import("./common.js").PanelContext} PanelContext */

/**
 * @typedef {object} Redirect
 * @property {number} status_code
 * @property {string} url
 */

/**
 * One distinct URL of the message.
 * @typedef {object} Link
 * @property {string} url
 * @property {string[]} [texts] the link texts
 * @property {string} [kind]
 * @property {boolean | null} [ok] null: not checked over HTTP
 * @property {number | null} [status_code]
 * @property {Redirect[]} [redirects]
 * @property {string | null} [final_url]
 * @property {string | null} [error]
 * @property {Location[]} [locations]
 */

/**
 * The links check's details.
 * @typedef {object} LinksDetails
 * @property {Link[]} [links]
 * @property {number} [unique]
 * @property {number} [broken]
 * @property {boolean} [http_validated]
 * @property {number} [http_checked]
 * @property {string | null} [http_skipped_reason]
 */

/**
 * @param {HTMLElement} panel
 * @param {CheckResult} result
 * @param {PanelContext} ctx
 */
export function renderLinks(panel, result, ctx) {
  const d = /** @type {LinksDetails} */ (result.details || {});
  const links = Array.isArray(d.links) ? d.links : [];
  panel.append(
    h(
      "div",
      { class: "card" },
      h(
        "p",
        {},
        `${d.unique ?? links.length} distinct URL(s), ${d.broken ?? 0} broken`,
        d.http_validated ? ` · ${d.http_checked ?? 0} checked over HTTP` : ` · not validated over HTTP${d.http_skipped_reason ? ` (${d.http_skipped_reason})` : ""}`,
      ),
    ),
  );
  if (links.length) {
    panel.append(
      h(
        "div",
        { class: "card table-wrap" },
        h(
          "table",
          { id: "links-table" },
          h("caption", { class: "visually-hidden" }, "Links found in the message"),
          h("thead", {}, h("tr", {}, ["URL", "Kind", "Status", "Redirects", "Error", "Where"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            links.map((l) =>
              h(
                "tr",
                {},
                h("td", { class: "break" }, externalLink(l.url), (l.texts || []).length ? h("div", { class: "muted small" }, `“${(l.texts || []).join("”, “")}”`) : null),
                h("td", {}, l.kind || ""),
                h("td", {}, l.ok === true ? badge(String(l.status_code ?? "ok"), "y") : l.ok === false ? badge(String(l.status_code ?? "failed"), "n") : badge("not checked", "u")),
                h(
                  "td",
                  { class: "break small" },
                  (l.redirects || []).length
                    ? h("ol", {}, (l.redirects || []).map((r) => h("li", {}, `${r.status_code} ${r.url}`)), l.final_url ? h("li", {}, `→ ${l.final_url}`) : null)
                    : "",
                ),
                h("td", { class: "break" }, l.error || ""),
                h("td", {}, locatedLines(l.locations).slice(0, 3).map((loc) => locationButton(loc, ctx))),
              ),
            ),
          ),
        ),
      ),
    );
  }
  panel.append(h("div", { class: "card" }, renderFindings(result.findings, ctx)));
}
