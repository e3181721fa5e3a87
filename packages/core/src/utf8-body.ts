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
  const { offset, index } = firstInvalid(body);
  if (!json || index < 0) return { offset, path: '' };
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(0, index) + MARKER + text.slice(index + 1));
  } catch {
    return { offset, path: '' };
  }
  return { offset, path: markedPath(parsed, []) ?? '' };
}

/** The byte offset of the first invalid sequence of a body that is not UTF-8, and its index in the decoded text (-1: not found). */
function firstInvalid(body: Buffer): { offset: number; index: number } {
  const text = body.toString('utf8');
  // The first U+FFFD that is not a real U+FFFD in the body (EF BF BD) is where decoding failed.
  let bytes = 0;
  let from = 0;
  for (let i = text.indexOf(REPLACEMENT); i >= 0; i = text.indexOf(REPLACEMENT, i + 1)) {
    bytes += Buffer.byteLength(text.slice(from, i));
    from = i;
    if (!(body[bytes] === 0xef && body[bytes + 1] === 0xbf && body[bytes + 2] === 0xbd)) return { offset: bytes, index: i };
  }
  return { offset: bytes, index: -1 };
}

const PERCENT = 0x25;
const PLUS = 0x2b;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;
const HEX = /^[0-9A-Fa-f]{2}$/;

/** Percent-decodes form bytes (`+` is a space; a `%` not followed by two hex digits stays), keeping each byte's offset in `part`. */
function percentDecode(part: Buffer): { bytes: Buffer; offsets: number[] } {
  const out: number[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < part.length; i++) {
    const b = part[i]!;
    if (b === PERCENT && i + 2 < part.length && HEX.test(part.toString('latin1', i + 1, i + 3))) {
      out.push(parseInt(part.toString('latin1', i + 1, i + 3), 16));
      offsets.push(i);
      i += 2;
    } else {
      out.push(b === PLUS ? 0x20 : b);
      offsets.push(i);
    }
  }
  return { bytes: Buffer.from(out), offsets };
}

/**
 * The form (`application/x-www-form-urlencoded`) counterpart of `findInvalidUtf8`: the raw bytes and what
 * every name and value percent-decodes to must be UTF-8 (a Latin-1 form posts `%EB` for `ë`, which a decoder
 * would quietly turn into U+FFFD). `offset` is the body offset of the first bad byte (of its `%XX` escape when
 * encoded); `path` is the name of the field whose value holds it, `''` when it is in a name.
 */
export function findInvalidUtf8InForm(body: Buffer): InvalidUtf8 | undefined {
  for (let start = 0; start <= body.length;) {
    let end = body.indexOf(AMPERSAND, start);
    if (end < 0) end = body.length;
    const pair = body.subarray(start, end);
    const eq = pair.indexOf(EQUALS);
    const rawName = eq < 0 ? pair : pair.subarray(0, eq);
    const name = percentDecode(rawName);
    if (!isUtf8(name.bytes)) return { offset: start + name.offsets[firstInvalid(name.bytes).offset]!, path: '' };
    if (eq >= 0) {
      const value = percentDecode(pair.subarray(eq + 1));
      if (!isUtf8(value.bytes)) return { offset: start + eq + 1 + value.offsets[firstInvalid(value.bytes).offset]!, path: name.bytes.toString('utf8') };
    }
    start = end + 1;
  }
  return undefined;
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
