// The official Node SDK (npm `mailtrap`) against a real `mailqa serve --tls-self-signed`,
// configured the way docs/mailtrap-compat.md says. Driven by test_served_sdks.py, which sets
// NODE_EXTRA_CA_CERTS, MAILQA_URL, MAILQA_TOKEN and MAILQA_INBOX_ID and reads the JSON this
// prints: what each SDK call answered (as the SDK hands it to the application).
import { MailtrapClient } from "mailtrap";

const MAILQA_URL = process.env.MAILQA_URL;
const TOKEN = process.env.MAILQA_TOKEN;
const INBOX_ID = Number(process.env.MAILQA_INBOX_ID);
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
    "1f15c4890000000d49444154789c6360f8cf000000030101001829d8a40000000049454e44ae426082",
  "hex",
);

// docs:start
// The SDK calls fixed https://*.mailtrap.io URLs: send them all to mailqa instead.
function pointAtMailqa(client, mailqaUrl) {
  client.axios.interceptors.request.use((config) => {
    const url = new URL(config.url);
    config.url = `${mailqaUrl}${url.pathname}${url.search}`;
    return config;
  });
  return client;
}

const client = pointAtMailqa(
  new MailtrapClient({ token: TOKEN, sandbox: true, testInboxId: INBOX_ID, accountId: 1 }),
  MAILQA_URL,
);
// docs:end

const out = {};

// A report still being made answers 409 analysis_pending: ask again, as an application would.
async function untilAnalysed(call, attempts = 8) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (error.cause?.response?.status !== 409 || attempt >= attempts) throw error;
    }
  }
}

async function step(name, call) {
  try {
    out[name] = await call();
  } catch (error) {
    out[name] = { error: error.message, status: error.cause?.response?.status ?? null };
  }
  return out[name];
}

const tag = `${Date.now()}`;
out.tag = tag;
const sent = await step("send", () =>
  client.send({
    from: { email: "shop@app.example", name: "Zoë's Shop" },
    to: [{ email: "ana@example.com", name: "Ana" }],
    subject: `Node order ${tag}`,
    text: `Thanks for order ${tag}.`,
    html: `<html><body><div style="display: flex">Thanks for order ${tag}.</div><img src="cid:logo"></body></html>`,
    attachments: [
      { filename: "logo.png", content: PNG, type: "image/png", disposition: "inline", content_id: "logo" },
      { filename: "invoice.csv", content: Buffer.from("id,total\n1,9.99\n"), type: "text/csv" },
    ],
    headers: { "X-Order": tag },
    custom_variables: { order: tag },
    category: "orders",
  }),
);
const batch = await step("batch", () =>
  client.batchSend({
    base: { from: { email: "news@app.example", name: "News" }, subject: `Node batch ${tag}`, text: "Hi" },
    requests: [
      { to: [{ email: "one@example.com" }] },
      { to: [{ email: "two@example.com" }], subject: `Node batch ${tag} override` },
      { to: [{ email: "not-an-address" }] },
    ],
  }),
);

const testing = client.testing;
const messageId = Number(sent.message_ids?.[0]);
out.message_id = messageId;
await step("list", () => testing.messages.get(INBOX_ID, { search: tag }));
await step("show", () => testing.messages.showEmailMessage(INBOX_ID, messageId));
await step("spam_report", () => untilAnalysed(() => testing.messages.getSpamScore(INBOX_ID, messageId)));
await step("html_analysis", () => untilAnalysed(() => testing.messages.getHtmlAnalysis(INBOX_ID, messageId)));
await step("headers", () => testing.messages.getMailHeaders(INBOX_ID, messageId));
await step("text", () => testing.messages.getTextMessage(INBOX_ID, messageId));
await step("html_source", () => testing.messages.getMessageHtmlSource(INBOX_ID, messageId));
await step("eml", () => testing.messages.getMessageAsEml(INBOX_ID, messageId));
const attachments = await step("attachments", () => testing.attachments.getList(INBOX_ID, messageId));
if (Array.isArray(attachments) && attachments.length) {
  await step("attachment", () => testing.attachments.get(INBOX_ID, messageId, attachments[0].id));
}
await step("mark_read", () => testing.messages.updateMessage(INBOX_ID, messageId, { isRead: true }));

const project = await step("project_create", () => testing.projects.create(`Node ${tag}`));
await step("projects", () => testing.projects.getList());
await step("project_rename", () => testing.projects.update(project.id, `Node ${tag} renamed`));
const inbox = await step("inbox_create", () => testing.inboxes.create(project.id, "Node inbox"));
await step("inbox_show", () => testing.inboxes.getInboxAttributes(inbox.id));
await step("inbox_rename", () => testing.inboxes.updateInbox(inbox.id, { name: "Node inbox 2" }));
await step("inbox_email_on", () => testing.inboxes.enableEmailAddress(inbox.id));
await step("inbox_email_reset", () => testing.inboxes.resetEmailAddress(inbox.id));
await step("inbox_credentials", () => testing.inboxes.resetCredentials(inbox.id));
await step("inbox_all_read", () => testing.inboxes.markAsRead(inbox.id));
await step("inbox_clean", () => testing.inboxes.cleanInbox(inbox.id));
await step("inboxes", () => testing.inboxes.getList());
await step("inbox_delete", () => testing.inboxes.delete(inbox.id));
await step("project_delete", () => testing.projects.delete(project.id));
await step("project_gone", () => testing.projects.getById(project.id));
const batchId = Number(batch.responses?.[0]?.message_ids?.[0]);
out.batch_message_id = batchId;
await step("delete_message", () => testing.messages.deleteMessage(INBOX_ID, batchId));
await step("deleted_message", () => testing.messages.showEmailMessage(INBOX_ID, batchId));

const wrong = pointAtMailqa(
  new MailtrapClient({ token: "mq_wrong", sandbox: true, testInboxId: INBOX_ID, accountId: 1 }),
  MAILQA_URL,
);
await step("wrong_token", () => wrong.send({ from: { email: "a@app.example" }, to: [{ email: "b@example.com" }], subject: "x", text: "x" }));

console.log(JSON.stringify(out));
