/** Marketo REST shapes (Adobe `error-codes.md`, `leads.md`); codes arrive as quoted strings. */
export interface MarketoError {
  code: string;
  message: string;
}

export interface MarketoRecordResult {
  id?: number;
  /** `created` | `updated` | `skipped` (push can also answer a result with only `reasons`). */
  status?: string;
  reasons?: MarketoError[];
}

export interface MarketoResponse {
  requestId?: string;
  success: boolean;
  result?: unknown[];
  errors?: MarketoError[];
  warnings?: unknown[];
}

/** Identity endpoint answer: `{access_token, token_type, expires_in, scope}`. */
export interface MarketoTokenResponse {
  access_token: string;
  token_type?: string;
  expires_in: number;
  scope?: string;
}

function asError(v: unknown): MarketoError | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (o.code === undefined && o.message === undefined) return undefined;
  return { code: String(o.code ?? ''), message: typeof o.message === 'string' ? o.message : '' };
}

/** Reads a body as a Marketo envelope, or undefined when it is not one (HTML error page, proxy reply). */
export function readMarketoResponse(data: unknown): MarketoResponse | undefined {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const o = data as Record<string, unknown>;
  if (typeof o.success !== 'boolean') return undefined;
  return {
    requestId: typeof o.requestId === 'string' ? o.requestId : undefined,
    success: o.success,
    result: Array.isArray(o.result) ? o.result : undefined,
    errors: Array.isArray(o.errors) ? o.errors.map(asError).filter((e): e is MarketoError => e !== undefined) : undefined,
    warnings: Array.isArray(o.warnings) ? o.warnings : undefined,
  };
}

export function readRecordResult(v: unknown): MarketoRecordResult {
  if (!v || typeof v !== 'object') return {};
  const o = v as Record<string, unknown>;
  return {
    id: typeof o.id === 'number' || typeof o.id === 'string' ? Number(o.id) : undefined,
    status: typeof o.status === 'string' ? o.status : undefined,
    reasons: Array.isArray(o.reasons) ? o.reasons.map(asError).filter((e): e is MarketoError => e !== undefined) : undefined,
  };
}

export function readTokenResponse(data: unknown): MarketoTokenResponse | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const o = data as Record<string, unknown>;
  if (typeof o.access_token !== 'string' || o.access_token === '') return undefined;
  const expiresIn = Number(o.expires_in);
  return {
    access_token: o.access_token,
    token_type: typeof o.token_type === 'string' ? o.token_type : undefined,
    expires_in: Number.isFinite(expiresIn) ? expiresIn : 0,
    scope: typeof o.scope === 'string' ? o.scope : undefined,
  };
}

/** `606 Max rate limit '100' exceeded with in '20' secs; 611 System error`. */
export function describeErrors(errors: MarketoError[] | undefined): string {
  if (!errors || errors.length === 0) return 'no error details';
  return errors.map((e) => `${e.code} ${e.message}`.trim()).join('; ');
}
