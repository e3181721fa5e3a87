import { isUtf8 } from 'node:buffer';

/** Where a body stops being valid UTF-8. */
export interface InvalidUtf8 {
  /** Byte offset of the first invalid sequence. */
  offset: number;
  /** JSON path of the value (or property name) holding it, e.g. `UserDetails.FirstName`; `''` when outside any. */
  path: string;
}

const REPLACEMENT = '\ufffd';
/** Stands in for the bad sequence while the JSON is parsed to find where it sits (private-use characters). */
const MARKER = '\ue000\ue0ff\ue000';

/**
 * Checks a body is valid UTF-8 and, when it is not, finds the first bad byte and the JSON value that
 * holds it. Node's decoder would silently turn the bytes into U+FFFD and the lead would be stored with
 * a changed name or address, so such a body is refused instead.
 */
export function findInvalidUtf8(body: Buffer, json: boolean): InvalidUtf8 | undefined {
  if (isUtf8(body)) return undefined;
  const text = body.toString('utf8');
  // The first U+FFFD that is not a real U+FFFD in the body (EF BF BD) is where decoding failed.
  let index = -1;
  let bytes = 0;
  let from = 0;
  for (let i = text.indexOf(REPLACEMENT); i >= 0; i = text.indexOf(REPLACEMENT, i + 1)) {
    bytes += Buffer.byteLength(text.slice(from, i));
    from = i;
    if (!(body[bytes] === 0xef && body[bytes + 1] === 0xbf && body[bytes + 2] === 0xbd)) {
      index = i;
      break;
    }
  }
  const offset = bytes;
  if (!json || index < 0) return { offset, path: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(0, index) + MARKER + text.slice(index + 1));
  } catch {
    return { offset, path: '' };
  }
  return { offset, path: markedPath(parsed, []) ?? '' };
}

function markedPath(v: unknown, path: string[]): string | undefined {
  if (typeof v === 'string') return v.includes(MARKER) ? path.join('.') : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = markedPath(v[i], [...path, String(i)]);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k.includes(MARKER)) return [...path, k.replace(MARKER, REPLACEMENT)].join('.');
      const p = markedPath(x, [...path, k]);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}
