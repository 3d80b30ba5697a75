// The JSON API client (the session cookie, plus the CSRF header on every mutation) and the
// shapes of the API's answers that the views read.

import { byId, isObj } from "./dom.js";

const CSRF_HEADER = byId("main").dataset.csrfHeader || "X-Mailqa-Request";

/**
 * @typedef {object} Session  GET /ui/session
 * @property {string} name
 * @property {string} prefix
 * @property {boolean} is_admin
 * @property {number | null} project_id
 * @property {string} version
 */

/**
 * @typedef {object} Project
 * @property {number} id
 * @property {string} name
 * @property {string} created_at
 */

/**
 * @typedef {object} SmtpCredentials
 * @property {string} host
 * @property {number} port
 * @property {string} username
 * @property {string} password
 * @property {string[]} auth_methods
 */

/**
 * @typedef {object} Inbox
 * @property {number} id
 * @property {number} project_id
 * @property {string} name
 * @property {number} quota_bytes
 * @property {number} used_bytes
 * @property {number} message_count
 * @property {number} unread_count
 * @property {number | null} max_messages
 * @property {number | null} max_age_days
 * @property {string} created_at
 * @property {SmtpCredentials} smtp
 */

/**
 * @typedef {object} Envelope
 * @property {string | null} mail_from
 * @property {string[]} rcpt_to
 * @property {string | null} client_ip
 * @property {string | null} helo
 */

/**
 * @typedef {object} Message  one message of a list
 * @property {number} id
 * @property {number} inbox_id
 * @property {string | null} subject
 * @property {string | null} from
 * @property {string | null} from_address
 * @property {string | null} to
 * @property {string | null} cc
 * @property {number} size
 * @property {string} preview_text
 * @property {boolean} is_read
 * @property {string} created_at
 * @property {boolean} has_html
 * @property {boolean} has_text
 * @property {string} analysis_status
 * @property {number | null} score
 * @property {Envelope} envelope
 * @property {string | null} [source_expired_at] when retention dropped the raw source
 */

/**
 * @typedef {object} Header
 * @property {string} name
 * @property {string} value
 */

/**
 * @typedef {object} Attachment
 * @property {number} index
 * @property {string | null} filename
 * @property {string} content_type
 * @property {number} size
 * @property {string | null} content_id
 * @property {string | null} disposition
 */

/**
 * @typedef {object} MessageBodies  what GET /api/v1/messages/{id} adds to a Message
 * @property {string | null} text_body
 * @property {string | null} html_body
 * @property {Header[]} headers
 * @property {Attachment[]} attachments
 * @property {string[]} parse_defects
 */

/** @typedef {Message & MessageBodies} MessageDetail */

/**
 * @typedef {object} MessagePage
 * @property {Message[]} messages
 * @property {number} page
 * @property {number} per_page
 * @property {number} total
 */

/**
 * @typedef {object} Count
 * @property {number} count
 */

/** @typedef {"passed" | "warning" | "failed" | "errored" | "skipped"} Status */
/** @typedef {"error" | "warning" | "info"} Severity */

/**
 * @typedef {object} Location  where a finding occurs; part: html, text, headers, css, url
 * @property {string} [part]
 * @property {number | null} [line]
 * @property {number | null} [column]
 * @property {string | null} [snippet]
 */

/**
 * @typedef {object} Finding
 * @property {string} rule
 * @property {string} title
 * @property {Severity} severity
 * @property {string} [message]
 * @property {string | null} [category]
 * @property {string | null} [url]
 * @property {Location[]} [locations]
 * @property {Record<string, unknown>} [data] rule-specific details
 */

/**
 * @typedef {object} CheckResult
 * @property {string} name
 * @property {Status} status
 * @property {string} [summary]
 * @property {number | null} [score]
 * @property {Finding[]} [findings]
 * @property {Record<string, unknown>} [details] the check's own payload (see the qa/ panels)
 * @property {string | null} [error]
 * @property {boolean} [retryable]
 * @property {number} [duration_ms]
 */

/**
 * @typedef {object} Report  GET /api/v1/messages/{id}/report
 * @property {string} schema_version
 * @property {string | null} [rules_version]
 * @property {Status} status
 * @property {number | null} [score]
 * @property {Record<string, CheckResult>} checks
 * @property {string} created_at
 * @property {number} [duration_ms]
 * @property {Compliance} [compliance]
 */

/** @typedef {"pass" | "fail" | "unknown"} ComplianceStatus */

/**
 * @typedef {object} ComplianceItem
 * @property {string} id
 * @property {string} title
 * @property {ComplianceStatus} status
 * @property {string} reason
 * @property {string} source
 */

/**
 * @typedef {object} ComplianceProfile
 * @property {string} id
 * @property {string} name
 * @property {ComplianceStatus} status
 * @property {number} passed
 * @property {number} total
 * @property {string[]} items
 */

/**
 * @typedef {object} Compliance  the bulk-sender requirements, judged from the checks
 * @property {ComplianceItem[]} items
 * @property {ComplianceProfile[]} profiles
 */

/** @typedef {"queued" | "running" | "done" | "failed" | "cancelled"} AuditStatus */

/**
 * @typedef {object} Ranked
 * @property {string} name
 * @property {number} messages
 */

/**
 * @typedef {object} HistogramBin
 * @property {number} from
 * @property {number} to
 * @property {number} messages
 */

/**
 * @typedef {object} AuditScore
 * @property {number | null} mean
 * @property {number | null} min
 * @property {number | null} max
 * @property {number} unscored
 * @property {HistogramBin[]} histogram
 */

/**
 * @typedef {object} AuditSummary  see docs/audits.md
 * @property {number} messages
 * @property {number} unreadable
 * @property {Record<string, number>} statuses
 * @property {Record<string, Record<string, number>>} checks check name → status → messages
 * @property {AuditScore} score
 * @property {Ranked[]} top_rules
 * @property {Ranked[]} html_unsupported
 * @property {Ranked[]} blacklisted
 * @property {Ranked[]} auth_failures
 * @property {Ranked[]} broken_link_hosts
 */

/**
 * @typedef {object} Audit
 * @property {number} id
 * @property {number} inbox_id
 * @property {AuditStatus} status
 * @property {string[]} checks
 * @property {boolean} online
 * @property {number | null} total
 * @property {number} done
 * @property {string | null} error
 * @property {string} created_at
 * @property {string | null} finished_at
 * @property {AuditSummary | null} [summary]
 */

/**
 * @typedef {object} AuditRecord  one audited message
 * @property {string} key
 * @property {number | null} [message_id]
 * @property {string | null} [subject]
 * @property {string} status
 * @property {number | null} [score]
 * @property {string[]} [rules]
 */

/**
 * @typedef {object} AuditMessages
 * @property {AuditRecord[]} messages
 * @property {number} total
 * @property {number} page
 * @property {number} per_page
 */

/**
 * @typedef {object} Webhook  GET /api/v1/webhooks (secret: on creation and rotation only)
 * @property {number} id
 * @property {string} url
 * @property {string[]} events
 * @property {number | null} project_id
 * @property {number | null} inbox_id
 * @property {boolean} enabled
 * @property {string | null} disabled_reason
 * @property {string} created_at
 * @property {string | null} previous_secret_expires_at
 * @property {string} [secret]
 */

/**
 * @typedef {object} WebhookAttempt
 * @property {string} attempted_at
 * @property {number | null} status_code
 * @property {string | null} error
 * @property {number} latency_ms
 * @property {string | null} response_excerpt
 */

/**
 * @typedef {object} WebhookEvent  GET /api/v1/webhooks/{id}/events
 * @property {number} id
 * @property {string} webhook_id_header
 * @property {string} type
 * @property {"pending" | "delivered" | "failed"} status
 * @property {number} attempts
 * @property {string | null} next_attempt_at
 * @property {string} created_at
 * @property {string | null} delivered_at
 * @property {WebhookAttempt[]} log
 */

/**
 * @template T
 * @typedef {object} Answer
 * @property {number} status
 * @property {T} data the decoded body (null for 204 or a body that is not JSON)
 */

/** A request the API refused; `status` is its HTTP status. */
export class ApiFailure extends Error {
  /**
   * @param {number} status
   * @param {unknown} body the decoded error body ({error, message}), if any
   */
  constructor(status, body) {
    const message = isObj(body) && typeof body.message === "string" ? body.message : "";
    super(message || `HTTP ${status}`);
    this.status = status;
  }
}

/**
 * @param {string} method
 * @param {boolean} json
 * @returns {Record<string, string>}
 */
function headersFor(method, json) {
  /** @type {Record<string, string>} */
  const headers = { Accept: json ? "application/json" : "*/*" };
  if (method !== "GET") headers[CSRF_HEADER] = "1";
  return headers;
}

/**
 * @param {Response} response
 * @returns {Response}
 */
function signedIn(response) {
  if (response.status === 401) {
    location.assign("/login");
    throw new ApiFailure(401, { message: "signed out" });
  }
  return response;
}

/**
 * Call the JSON API. T is the shape the endpoint answers with on success.
 * @template T
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<Answer<T>>}
 */
export async function api(path, { method = "GET", body } = {}) {
  const headers = headersFor(method, true);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = signedIn(
    await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    }),
  );
  if (response.status === 204) return { status: 204, data: /** @type {T} */ (null) };
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) throw new ApiFailure(response.status, data);
  return { status: response.status, data };
}

/**
 * GET a body as is (a raw message).
 * @param {string} path
 * @returns {Promise<Response>}
 */
export async function fetchRaw(path) {
  const response = signedIn(await fetch(path, { method: "GET", headers: headersFor("GET", false), credentials: "same-origin" }));
  if (!response.ok) throw new ApiFailure(response.status, null);
  return response;
}

/** Sign out (the server clears the session cookie), then go to the sign-in page. */
export async function signOut() {
  await fetch("/logout", { method: "POST", headers: { [CSRF_HEADER]: "1" }, credentials: "same-origin" });
  location.assign("/login");
}
