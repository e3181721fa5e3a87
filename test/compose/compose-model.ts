import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { Ajv } from 'ajv';

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** The long-running commands of README: CLI (intake, worker, ops, start), used when the CLI does not list its commands itself. */
export const LONG_RUNNING_COMMANDS = ['intake', 'worker', 'ops', 'start'] as const;

/** Command names the `leadrelay` CLI has: `COMMAND_NAMES` from apps/cli/src/commands.ts when it exports them. */
export async function cliCommandNames(): Promise<readonly string[]> {
  const file = join(ROOT, 'apps/cli/src/commands.ts');
  if (existsSync(file)) {
    const mod = (await import(pathToFileURL(file).href)) as { COMMAND_NAMES?: unknown };
    if (Array.isArray(mod.COMMAND_NAMES)) return mod.COMMAND_NAMES as string[];
  }
  return LONG_RUNNING_COMMANDS;
}

/** A service as written, with compose's variable syntax resolved against a host environment. */
export interface Service {
  name: string;
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  entrypoint?: string[];
  command?: string[];
  environment: Record<string, string>;
  ports: string[];
  expose: string[];
  volumes: string[];
  dependsOn: Record<string, string>;
  containerName?: string;
  healthcheck?: { test?: string[] | string };
  raw: Record<string, unknown>;
}

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$` (a literal `$`). */
export function composeInterpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g, (whole, name?: string, colon?: string, fallback?: string) => {
    if (whole === '$$') return '$';
    const v = env[name!];
    if (fallback === undefined) return v ?? '';
    return v === undefined || (colon === ':' && v === '') ? fallback : v;
  });
}

const words = (v: unknown): string[] | undefined =>
  v === undefined || v === null ? undefined : Array.isArray(v) ? v.map(String) : String(v).split(/\s+/).filter(Boolean);

function environment(v: unknown, env: Record<string, string | undefined>): Record<string, string> {
  const entries: [string, string][] = Array.isArray(v)
    ? v.map((e) => {
      const [k, ...rest] = String(e).split('=');
      return [k!, rest.join('=')];
    })
    : Object.entries((v ?? {}) as Record<string, unknown>).map(([k, val]) => [k, val === null ? '' : String(val)]);
  return Object.fromEntries(entries.map(([k, val]) => [k, composeInterpolate(val, env)]));
}

function dependsOn(v: unknown): Record<string, string> {
  if (Array.isArray(v)) return Object.fromEntries(v.map((s) => [String(s), 'service_started']));
  return Object.fromEntries(Object.entries((v ?? {}) as Record<string, { condition?: string }>).map(([k, d]) => [k, d?.condition ?? 'service_started']));
}

/** docker-compose.yml parsed as compose reads it (YAML merge keys, `x-` fragments), for a host environment. */
export function readCompose(hostEnv: Record<string, string | undefined> = {}): { services: Record<string, Service>; volumes: string[]; raw: Record<string, unknown> } {
  const raw = parse(read('docker-compose.yml'), { merge: true }) as Record<string, unknown>;
  const services = Object.fromEntries(Object.entries(raw.services as Record<string, Record<string, unknown>>).map(([name, s]) => {
    const service: Service = {
      name,
      ...(s.image !== undefined ? { image: String(s.image) } : {}),
      ...(s.build !== undefined ? { build: s.build as Service['build'] } : {}),
      ...(s.entrypoint !== undefined ? { entrypoint: words(s.entrypoint)! } : {}),
      ...(s.command !== undefined ? { command: words(s.command)! } : {}),
      environment: environment(s.environment, hostEnv),
      ports: ((s.ports as unknown[]) ?? []).map(String),
      expose: ((s.expose as unknown[]) ?? []).map(String),
      volumes: ((s.volumes as unknown[]) ?? []).map(String),
      dependsOn: dependsOn(s.depends_on),
      ...(s.container_name !== undefined ? { containerName: String(s.container_name) } : {}),
      ...(s.healthcheck !== undefined ? { healthcheck: s.healthcheck as Service['healthcheck'] } : {}),
      raw: s,
    };
    return [name, service];
  }));
  return { services, volumes: Object.keys((raw.volumes as object) ?? {}), raw };
}

/** The Dockerfile's stages and the final stage's ENTRYPOINT, CMD, USER and ENV. */
export interface Dockerfile {
  args: Record<string, string>;
  stages: { from: string; name?: string; lines: string[] }[];
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  env: Record<string, string>;
}

/** Instructions of a Dockerfile with continuation lines joined and comments dropped. */
export function dockerInstructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && current === '')) continue;
    if (trimmed.endsWith('\\')) {
      current += trimmed.slice(0, -1) + ' ';
      continue;
    }
    current += trimmed;
    if (current.trim()) out.push(current.trim());
    current = '';
  }
  return out;
}

const execForm = (arg: string): string[] => (arg.trim().startsWith('[') ? (JSON.parse(arg) as string[]) : ['/bin/sh', '-c', arg]);

export function readDockerfile(path = 'Dockerfile'): Dockerfile {
  const file: Dockerfile = { args: {}, stages: [], env: {} };
  for (const instr of dockerInstructions(read(path))) {
    const [, keyword, rest = ''] = /^(\w+)\s*(.*)$/s.exec(instr)!;
    const inStage = file.stages.length > 0;
    switch (keyword!.toUpperCase()) {
      case 'ARG': {
        if (inStage) break; // only global ARGs feed FROM
        const [k, v = ''] = rest.split('=');
        file.args[k!.trim()] = v.trim();
        break;
      }
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest)!;
        const from = m[1]!.replace(/\$\{?(\w+)\}?/g, (_, a: string) => file.args[a] ?? '');
        file.stages.push({ from, ...(m[2] ? { name: m[2] } : {}), lines: [] });
        // ENTRYPOINT, CMD, USER and ENV are per stage: keep only the final one's.
        delete file.entrypoint;
        delete file.cmd;
        delete file.user;
        file.env = {};
        break;
      }
      case 'ENTRYPOINT':
        file.entrypoint = execForm(rest);
        break;
      case 'CMD':
        file.cmd = execForm(rest);
        break;
      case 'USER':
        file.user = rest.trim();
        break;
      case 'ENV':
        for (const m of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g)) file.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
        break;
    }
    file.stages.at(-1)?.lines.push(instr);
  }
  return file;
}

/** What a container of this service runs: its entrypoint and command, from compose or else the image. */
export function effectiveArgv(service: Service, image: Dockerfile): string[] {
  const entrypoint = service.entrypoint ?? image.entrypoint ?? [];
  // Overriding the entrypoint in compose also drops the image's CMD.
  const command = service.command ?? (service.entrypoint ? [] : image.cmd ?? []);
  return [...entrypoint, ...command];
}

/** Whether the service runs the image built from this repository's Dockerfile. */
export function usesAppImage(service: Service): boolean {
  if (service.build === undefined) return false;
  const context = typeof service.build === 'string' ? service.build : service.build.context ?? '.';
  const dockerfile = typeof service.build === 'string' ? 'Dockerfile' : service.build.dockerfile ?? 'Dockerfile';
  return (context === '.' || context === './') && dockerfile === 'Dockerfile';
}

/**
 * Problems the Compose specification's JSON Schema finds in a parsed compose file, as `path message`.
 * The schema is the one dclint (a compose linter from npm) ships, so no docker-compose binary is needed.
 */
export function composeSchemaErrors(composeFile: unknown): string[] {
  const require = createRequire(import.meta.url);
  const schemaPath = join(dirname(require.resolve('dclint/package.json')), 'schemas/compose.schema.json');
  const { $schema, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  // Ajv's default dialect is draft-07, the one the schema declares (under an https URL Ajv does not know).
  if (!String($schema).includes('draft-07')) throw new Error(`${schemaPath}: expected a draft-07 schema, got ${String($schema)}`);
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  if (validate(composeFile)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : ''}`);
}
