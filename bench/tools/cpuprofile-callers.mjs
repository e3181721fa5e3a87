// Who calls a function, in a V8 .cpuprofile: its self time split by caller chain.
//   node bench/tools/cpuprofile-callers.mjs <file.cpuprofile> <function name prefix> [depth=4]
import { readFileSync } from 'node:fs';
const [file, name, depth = 4] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
let total = 0; for (const v of dt.values()) total += v;
const lbl = (n) => `${n.callFrame.functionName || '(anon)'}@${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/work\/main\//, '').slice(-40)}:${n.callFrame.lineNumber + 1}`;
const agg = new Map();
for (const [id, t] of dt) {
  const n = byId.get(id); if (!lbl(n).startsWith(name)) continue;
  const chain = []; let cur = parent.get(id);
  while (cur !== undefined && chain.length < Number(depth)) { chain.push(lbl(byId.get(cur))); cur = parent.get(cur); }
  const k = chain.join(' < '); agg.set(k, (agg.get(k) ?? 0) + t);
}
for (const [k, t] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${(100 * t / total).toFixed(1).padStart(5)}%  ${k}`);
