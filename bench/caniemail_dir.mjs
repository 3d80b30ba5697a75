// The caniemail npm checker as a many-template gate, for bench/gate.py: check every .html
// file of a folder and print one JSON document (per file the issues: title and the clients
// lacking support), as a CI gate with a JSON output would.
// Usage: node caniemail_dir.mjs DIR [CLIENTS]  (CLIENTS: comma-separated globs)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caniemail } from 'caniemail';

const [dir, clients = 'apple-mail.*,gmail.*,outlook.*,yahoo.*,samsung-email.*'] =
  process.argv.slice(2);
const files = {};
let failed = false;
for (const name of readdirSync(dir).filter((n) => n.endsWith('.html')).sort()) {
  try {
    const result = caniemail({ clients: clients.split(','), html: readFileSync(join(dir, name), 'utf8') });
    const issues = [];
    for (const [kind, map] of [['error', result.issues.errors], ['warning', result.issues.warnings]]) {
      for (const [client, list] of map) {
        for (const issue of list) issues.push({ kind, client, title: issue.title, url: issue.url });
      }
    }
    failed ||= !result.success;
    files[name] = { success: result.success, issues };
  } catch (err) {
    files[name] = { error: String(err && err.message ? err.message : err) };
    failed = true;
  }
}
process.stdout.write(JSON.stringify({ files }) + '\n');
process.exitCode = failed ? 1 : 0; // not process.exit(): it would cut a piped stdout short
