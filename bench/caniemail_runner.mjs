// Runs the caniemail npm checker over HTML files for bench/html_check.py.
// Input (stdin): {"files": [...], "clients": [...], "rounds": N}
// Output (stdout): {"seconds": total, "results": {file: {"titles": [...], "error": str|null}}}
import { readFileSync } from 'node:fs';
import { caniemail } from 'caniemail';

const input = JSON.parse(readFileSync(0, 'utf8'));
const sources = input.files.map((f) => [f, readFileSync(f, 'utf8')]);
const results = {};
const check = (html) => caniemail({ clients: input.clients, html });
// One warm-up pass (JIT, lazy data loading), then timed rounds.
for (const [file, html] of sources) {
  try {
    const { issues } = check(html);
    const titles = new Set();
    for (const map of [issues.errors, issues.warnings]) {
      for (const list of map.values()) for (const issue of list) titles.add(issue.title);
    }
    results[file] = { titles: [...titles], error: null };
  } catch (err) {
    results[file] = { titles: [], error: String(err && err.message ? err.message : err) };
  }
}
const started = process.hrtime.bigint();
for (let round = 0; round < input.rounds; round++) {
  for (const [, html] of sources) {
    try { check(html); } catch { /* reported above */ }
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(JSON.stringify({ seconds, results }));
