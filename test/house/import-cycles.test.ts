import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * No circular imports among the source files of apps/*\/src and packages/*\/src (tests left out).
 * An edge is any import or re-export, type-only ones too, and a dynamic import() of a literal path:
 * relative specifiers, and `@leadrelay/<name>` resolved to that workspace's `source` entry (its
 * src/index.ts). Other packages (node:, npm) are not followed.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WORKSPACE_DIRS = ['apps', 'packages'];

type Graph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== 'dist') out.push(...sourceFiles(path));
    } else if (/\.(ts|tsx|mts)$/.test(name) && !/\.d\.ts$/.test(name) && !/\.test\.tsx?$/.test(name)) {
      out.push(path);
    }
  }
  return out;
}

/** `@leadrelay/<name>` (and its subpaths) → the file its `source` export condition names. */
function workspaceEntries(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const group of WORKSPACE_DIRS) {
    for (const name of readdirSync(join(ROOT, group))) {
      const pkgFile = join(ROOT, group, name, 'package.json');
      if (!existsSync(pkgFile)) continue;
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: string; exports?: Record<string, unknown> };
      if (!pkg.name || !pkg.exports) continue;
      for (const [sub, target] of Object.entries(pkg.exports)) {
        const source = typeof target === 'object' && target !== null ? (target as { source?: string }).source : undefined;
        if (!source) continue;
        entries.set(sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}`, resolve(ROOT, group, name, source));
      }
    }
  }
  return entries;
}

function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** A relative specifier as written for NodeNext (`./x.js`) → the .ts file beside it. */
function resolveRelative(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.(m?js|jsx)$/, '.ts'), base.replace(/\.(m?js|jsx)$/, '.tsx'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

function buildGraph(): Graph {
  const entries = workspaceEntries();
  const files = WORKSPACE_DIRS.flatMap((group) => readdirSync(join(ROOT, group))
    .map((name) => join(ROOT, group, name, 'src'))
    .filter((src) => existsSync(src))
    .flatMap(sourceFiles));
  const graph: Graph = new Map(files.map((f) => [f, []]));
  for (const file of files) {
    const edges = new Set<string>();
    for (const spec of specifiers(file)) {
      const target = spec.startsWith('.') ? resolveRelative(file, spec) : entries.get(spec);
      if (target && graph.has(target)) edges.add(target);
    }
    graph.set(file, [...edges].sort());
  }
  return graph;
}

/** The cycles a depth-first search meets as back edges (none exactly when the graph has no cycle), each a path ending where it starts. */
export function findCycles(graph: Graph): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        // One report per cycle, whichever file the search entered it by.
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const key = [...cycle.slice(start), ...cycle.slice(0, start)].join('\n');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cycle, next]);
        }
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('import cycles', () => {
  it('finds a cycle and names its path (the check itself works)', () => {
    const graph: Graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']]]);
    expect(findCycles(graph)).toEqual([['a', 'b', 'c', 'a'], ['e', 'e']]);
    expect(findCycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('sees the workspace imports (relative and @leadrelay/*)', () => {
    const graph = buildGraph();
    const rel = (f: string) => relative(ROOT, f);
    const edges = (f: string) => (graph.get(join(ROOT, f)) ?? []).map(rel);
    expect(graph.size).toBeGreaterThan(100);
    expect(edges('apps/cli/src/main.ts')).toContain('apps/cli/src/command-context.ts');
    expect(edges('apps/cli/src/main.ts')).toContain('packages/core/src/index.ts');
  });

  it('has none among apps/*/src and packages/*/src', () => {
    const cycles = findCycles(buildGraph()).map((c) => c.map((f) => relative(ROOT, f)).join(' -> '));
    expect(cycles, `circular imports:\n${cycles.join('\n')}`).toEqual([]);
  });
});
