// The caniemail npm checker as a one-template gate, for bench/one_template.py: check one
// file and print each issue (title and the clients lacking support), as a CLI would.
// Usage: node caniemail_one.mjs FILE [CLIENTS]  (CLIENTS: comma-separated globs)
// Exit code: 0 no issue, 1 issues, 2 the checker failed.
import { readFileSync } from 'node:fs';
import { caniemail } from 'caniemail';

const [file, clients = 'apple-mail.*,gmail.*,outlook.*,yahoo.*,samsung-email.*'] =
  process.argv.slice(2);
let result;
try {
  result = caniemail({ clients: clients.split(','), html: readFileSync(file, 'utf8') });
} catch (err) {
  process.stderr.write(`caniemail: ${err && err.message ? err.message : err}\n`);
  process.exit(2);
}
const lines = [];
for (const [kind, map] of [['error', result.issues.errors], ['warning', result.issues.warnings]]) {
  for (const [client, list] of map) {
    for (const issue of list) lines.push(`${file}: ${kind}: ${issue.title} (${client})`);
  }
}
process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''));
process.exit(result.success ? 0 : 1);
