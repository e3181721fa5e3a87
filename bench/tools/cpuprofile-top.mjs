// Time per function (or package) in a V8 .cpuprofile (from --cpu-prof or profile-intake.mjs).
//   node bench/tools/cpuprofile-top.mjs <file.cpuprofile> [rows=40] [self|pkg|incl]
// self: self time per function; pkg: self time per package; incl: time including callees.
import { readFileSync } from 'node:fs';
const [file, N = 40, mode = 'self'] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
let total = 0; for (const v of dt.values()) total += v;
const key = (n) => {
  const cf = n.callFrame; const url = cf.url.replace(/.*node_modules\//, 'nm/').replace(/.*\/work\/main\//, '');
  if (mode === 'pkg') { const m = /nm\/((@[^/]+\/)?[^/]+)/.exec(url); return m ? m[1] : (url.startsWith('node:') || url === '' ? (url || cf.functionName || '(native)') : url.split('/').slice(0, 3).join('/')); }
  return `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber + 1}`;
};
const agg = new Map();
if (mode === 'incl') {
  for (const [id, t] of dt) { const seen = new Set(); let cur = id; while (cur !== undefined) { const k = key(byId.get(cur)); if (!seen.has(k)) { seen.add(k); agg.set(k, (agg.get(k) ?? 0) + t); } cur = parent.get(cur); } }
} else for (const [id, t] of dt) { const k = key(byId.get(id)); agg.set(k, (agg.get(k) ?? 0) + t); }
const rows = [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(N));
for (const [k, t] of rows) console.log(`${(100 * t / total).toFixed(1).padStart(5)}%  ${k}`);
