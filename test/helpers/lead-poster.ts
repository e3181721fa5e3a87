/** What intake answered for an accepted lead. */
export interface PostedLead {
  id: string;
  duplicate: boolean;
  destinations: string[];
  /** Requests it took (1 = accepted at the first try). */
  tries: number;
}

export interface LeadPosterOptions {
  /** Intake base URL, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  apiKey: string;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** Pause between tries of one lead (default 250 ms). */
  retryDelayMs?: number;
  /** Give up on a lead after this long (default 60 s): a post that never succeeds fails the test. */
  giveUpAfterMs?: number;
}

/**
 * Posts leads to intake the way Microsoft's HTTPS-endpoint destination does: a failed post
 * (503 while Redis is away, a reset, a timeout) is sent again with the same body until intake
 * accepts it. Any other refusal (4xx) is a bug and throws.
 */
export class LeadPoster {
  readonly counts = { requests: 0, unavailable: 0, networkErrors: 0 };

  constructor(private readonly options: LeadPosterOptions) {}

  async post(body: unknown, query: Record<string, string> = {}): Promise<PostedLead> {
    const url = new URL('/v1/leads', this.options.baseUrl);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const started = Date.now();
    const giveUpAfter = this.options.giveUpAfterMs ?? 60_000;
    let lastProblem = '';
    for (let tries = 1; ; tries++) {
      this.counts.requests++;
      try {
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': this.options.apiKey },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
        });
        const text = await r.text();
        if (r.status === 200 || r.status === 202) {
          const reply = JSON.parse(text) as Omit<PostedLead, 'tries'>;
          return { ...reply, tries };
        }
        if (r.status !== 503 && r.status < 500) throw new Error(`intake refused a lead with ${r.status}: ${text}`);
        this.counts.unavailable++;
        lastProblem = `${r.status} ${text.slice(0, 200)}`;
      } catch (e) {
        if ((e as Error).message.startsWith('intake refused')) throw e;
        this.counts.networkErrors++;
        lastProblem = (e as Error).message;
      }
      if (Date.now() - started > giveUpAfter) throw new Error(`intake did not accept a lead within ${giveUpAfter} ms (${tries} tries; last: ${lastProblem})`);
      await new Promise((r) => setTimeout(r, this.options.retryDelayMs ?? 250));
    }
  }
}
