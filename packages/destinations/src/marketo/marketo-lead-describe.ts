/** What delivery needs from `GET /rest/v1/leads/describe.json`, read once per client. */
export interface MarketoLeadDescribe {
  /** REST API names of every lead field. */
  restNames: Set<string>;
  /** REST name by SOAP name (the Asset API's form field ids are SOAP names: `FirstName`, `Street`). */
  restBySoap: Map<string, string>;
  /** Text lengths by REST name, where describe gives one (strings: 255). */
  lengths: Record<string, number>;
}

/** The lead fields a form holds, by REST name, and the lengths the form allows. */
export interface MarketoFormFields {
  fields: Set<string>;
  lengths: Record<string, number>;
}

export function readMarketoDescribe(result: unknown[] | undefined): MarketoLeadDescribe {
  const restNames = new Set<string>();
  const restBySoap = new Map<string, string>();
  const lengths: Record<string, number> = {};
  for (const raw of result ?? []) {
    const f = raw as { length?: unknown; rest?: { name?: unknown }; soap?: { name?: unknown } } | null;
    const rest = f?.rest?.name;
    if (typeof rest !== 'string') continue;
    restNames.add(rest);
    if (typeof f?.soap?.name === 'string') restBySoap.set(f.soap.name, rest);
    if (typeof f?.length === 'number' && f.length > 0) lengths[rest] = f.length;
  }
  return { restNames, restBySoap, lengths };
}

/**
 * Reads `GET /rest/asset/v1/form/{id}/fields.json`. Its ids are SOAP names, mapped to REST names through
 * describe; an id that is no lead field (rich text, `Profiling`) is not a field a submission can fill.
 * Returns undefined when the Asset API found no such form.
 */
export function readMarketoFormFields(result: unknown[] | undefined, describe: MarketoLeadDescribe): MarketoFormFields | undefined {
  if (!result) return undefined;
  const lowerRest = new Map([...describe.restNames].map((n) => [n.toLowerCase(), n]));
  const fields = new Set<string>();
  const lengths: Record<string, number> = {};
  for (const raw of result) {
    const f = raw as { id?: unknown; maxLength?: unknown } | null;
    if (typeof f?.id !== 'string') continue;
    const rest = describe.restBySoap.get(f.id) ?? lowerRest.get(f.id.toLowerCase());
    if (!rest) continue;
    fields.add(rest);
    if (typeof f.maxLength === 'number' && f.maxLength > 0) lengths[rest] = Math.min(f.maxLength, describe.lengths[rest] ?? Infinity);
  }
  return { fields, lengths: { ...describe.lengths, ...lengths } };
}
