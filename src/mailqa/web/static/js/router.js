// Hash routes: each address (#/inbox/3, #/message/17/qa-spam, #/audit/2, #/webhooks) draws its
// view.

import { showAudit } from "./views/audit.js";
import { showAudits } from "./views/audits.js";
import { showHome } from "./views/home.js";
import { showInbox } from "./views/inbox.js";
import { showMessage } from "./views/message.js";
import { showWebhooks } from "./views/webhooks.js";
import { parseRoute } from "./view.js";

/** Draw the view the address names (home for anything else). */
export async function route() {
  const { parts, params } = parseRoute();
  if (parts[0] === "message" && /^\d+$/.test(parts[1] || "")) {
    return showMessage(Number(parts[1]), parts[2] || "preview", parts[3]);
  }
  if (parts[0] === "inbox" && /^\d+$/.test(parts[1] || "")) {
    return showInbox(Number(parts[1]), params);
  }
  if (parts[0] === "audits") return showAudits(params);
  if (parts[0] === "audit" && /^\d+$/.test(parts[1] || "")) return showAudit(Number(parts[1]));
  if (parts[0] === "webhooks") return showWebhooks();
  return showHome();
}
