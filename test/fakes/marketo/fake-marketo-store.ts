/** One Marketo person as the fake stores it. */
export interface FakeMarketoLead {
  id: number;
  fields: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  /** Times a call created or updated this record (1 = written once). */
  writes: number;
  activities: FakeMarketoActivity[];
}

/** What a write left behind, like Marketo's activity log ("Lead is pushed", "Fill out Form"). */
export interface FakeMarketoActivity {
  type: 'sync' | 'push' | 'form';
  at: number;
  requestId: string;
  programName?: string;
  formId?: number;
}

/** Emails compare case-insensitively in Marketo; other keys exactly. */
function normalise(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value);
  return field === 'email' ? text.toLowerCase() : text;
}

/**
 * The fake's lead database: records with ids, looked up by any field through lazily built indexes
 * (so a benchmark with 100k leads stays fast).
 */
export class FakeMarketoLeadStore {
  private readonly byId = new Map<number, FakeMarketoLead>();
  private readonly indexes = new Map<string, Map<string, Set<number>>>();
  private nextId = 1001;

  get size(): number {
    return this.byId.size;
  }

  all(): FakeMarketoLead[] {
    return [...this.byId.values()];
  }

  get(id: number): FakeMarketoLead | undefined {
    return this.byId.get(id);
  }

  /** Every record whose `field` equals `value` (email: case-insensitive). */
  find(field: string, value: unknown): FakeMarketoLead[] {
    const key = normalise(field, value);
    if (key === undefined) return [];
    const ids = this.index(field).get(key);
    return ids ? [...ids].map((id) => this.byId.get(id)!).filter(Boolean) : [];
  }

  create(fields: Record<string, unknown>, at: number): FakeMarketoLead {
    const lead: FakeMarketoLead = { id: this.nextId++, fields: {}, createdAt: at, updatedAt: at, writes: 0, activities: [] };
    this.byId.set(lead.id, lead);
    this.update(lead, fields, at);
    return lead;
  }

  update(lead: FakeMarketoLead, fields: Record<string, unknown>, at: number): void {
    for (const [field, idx] of this.indexes) {
      if (!(field in fields)) continue;
      const before = normalise(field, lead.fields[field]);
      if (before !== undefined) idx.get(before)?.delete(lead.id);
      const after = normalise(field, fields[field]);
      if (after !== undefined) {
        let set = idx.get(after);
        if (!set) idx.set(after, (set = new Set()));
        set.add(lead.id);
      }
    }
    Object.assign(lead.fields, fields);
    lead.updatedAt = at;
    lead.writes++;
  }

  /** Lookup values held by more than one record: the duplicates concurrent upserts can create. */
  duplicates(field = 'email'): { value: string; ids: number[] }[] {
    const out: { value: string; ids: number[] }[] = [];
    for (const [value, ids] of this.index(field)) if (ids.size > 1) out.push({ value, ids: [...ids] });
    return out;
  }

  clear(): void {
    this.byId.clear();
    this.indexes.clear();
  }

  private index(field: string): Map<string, Set<number>> {
    let idx = this.indexes.get(field);
    if (idx) return idx;
    idx = new Map();
    for (const lead of this.byId.values()) {
      const key = normalise(field, lead.fields[field]);
      if (key === undefined) continue;
      let set = idx.get(key);
      if (!set) idx.set(key, (set = new Set()));
      set.add(lead.id);
    }
    this.indexes.set(field, idx);
    return idx;
  }
}
