/** One request the inbox accepted. */
export interface ReceivedLead {
  /** Order of arrival, from 1. */
  seq: number;
  receivedAt: string;
  path: string;
  contentType?: string;
  /** Standard Webhooks `webhook-id`: stable per lead and destination, so a repeat shows up as `duplicate`. */
  webhookId?: string;
  /** Whether a Standard Webhooks signature was checked and matched (false when the inbox has no secret). */
  verified: boolean;
  /** This `webhook-id` arrived before (an at-least-once retry). */
  duplicate: boolean;
  /** The parsed body (JSON or form fields), or the text when it is neither. */
  body: unknown;
}

/** The last `capacity` leads received, oldest dropped first; ids seen stay remembered for `duplicate`. */
export class ReceivedLeads {
  private readonly items: ReceivedLead[] = [];
  private readonly seenIds = new Set<string>();
  private count = 0;

  /** @param capacity how many leads are kept (default 1000). */
  constructor(private readonly capacity = 1000) {}

  add(lead: Omit<ReceivedLead, 'seq' | 'duplicate'>): ReceivedLead {
    const duplicate = lead.webhookId !== undefined && this.seenIds.has(lead.webhookId);
    if (lead.webhookId !== undefined) this.seenIds.add(lead.webhookId);
    // The id set is bounded too: beyond ten times the capacity, start over rather than grow forever.
    if (this.seenIds.size > this.capacity * 10) this.seenIds.clear();
    const item = { ...lead, seq: ++this.count, duplicate };
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.shift();
    return item;
  }

  /** Newest first. */
  list(): ReceivedLead[] {
    return [...this.items].reverse();
  }

  /** Every lead received since start (or the last clear), including those no longer kept. */
  get total(): number {
    return this.count;
  }

  clear(): void {
    this.items.length = 0;
    this.seenIds.clear();
    this.count = 0;
  }
}
