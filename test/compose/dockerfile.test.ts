import { describe, expect, it } from 'vitest';
import { read, readCompose, readDockerfile } from './compose-model.js';

describe('Dockerfile', () => {
  const file = readDockerfile();
  const runtime = file.stages.at(-1)!;
  const build = file.stages.find((s) => s.name === 'build');
  const text = (lines: string[]) => lines.join('\n');

  it('is multi-stage on a pinned node:20 bookworm-slim', () => {
    expect(file.stages.length).toBeGreaterThanOrEqual(2);
    for (const s of file.stages) expect(s.from).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    expect(build, 'a stage named build').toBeDefined();
  });

  it('builds with npm ci and npm run build, and ships only production dependencies and compiled output', () => {
    expect(text(build!.lines)).toMatch(/RUN npm ci\b/);
    expect(text(build!.lines)).toMatch(/npm run build/);
    const runtimeText = text(runtime.lines);
    expect(runtimeText).toMatch(/npm ci --omit=dev/);
    // Sources stay in the build stage: the runtime copies from it only what the staging step put in /out.
    const copies = runtime.lines.filter((l) => /^COPY /.test(l));
    expect(copies.every((l) => /--from=(manifests|build)\b/.test(l)), copies.join('\n')).toBe(true);
    expect(text(build!.lines)).toMatch(/for dir in packages\/\* apps\/\*.*"\$dir\/dist"/s);
    expect(text(build!.lines)).toMatch(/"\$dir\/bin"/);
  });

  it('needs no network when a container runs: every dependency is installed at build time', () => {
    // npx or npm install at start would fetch from the registry; the image runs node on what it built.
    const atRunTime = [...(file.entrypoint ?? []), ...(file.cmd ?? [])].join(' ');
    expect(atRunTime).not.toMatch(/\b(npx|npm|yarn|pnpm|curl|wget)\b/);
    for (const s of Object.values(readCompose().services)) {
      const argv = [...(s.entrypoint ?? []), ...(s.command ?? []), JSON.stringify(s.healthcheck?.test ?? '')].join(' ');
      expect(argv, s.name).not.toMatch(/\b(npx|npm install|npm i|yarn|pnpm)\b/);
    }
    expect(text(runtime.lines)).toMatch(/RUN npm ci --omit=dev/);
  });

  it('runs as a non-root user with the CLI as entrypoint', () => {
    expect(file.user).toBeDefined();
    expect(file.user).not.toMatch(/^(root|0)(:|$)/);
    expect(file.entrypoint).toEqual(['node', 'apps/cli/bin/leadrelay.js']);
    expect(file.cmd).toEqual(['start']);
  });

  it('ships the default config at the path compose mounts over', () => {
    expect(file.env.LEADRELAY_CONFIG).toBe('/app/leadrelay.yaml');
    expect(text(build!.lines)).toMatch(/cp [^\n]*leadrelay\.yaml[^\n]* \/out\//);
    expect(readCompose().services.intake!.volumes).toContain('./leadrelay.yaml:/app/leadrelay.yaml:ro');
  });
});

describe('.dockerignore', () => {
  it('keeps local installs, build output and git history out of the build context', () => {
    const entries = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const e of ['node_modules', 'dist', '.git', '.turbo']) expect(entries).toContain(e);
  });
});
