/** What a call through `SharedToken.withToken` counts as "the API refused this token". */
export interface TokenRejection<T> {
  /** An answer that means the token was refused (e.g. a 401 reply the client does not throw). */
  result?(value: T): boolean;
  /** A thrown error that means the token was refused (e.g. jsforce's INVALID_SESSION_ID). */
  error?(e: unknown): boolean;
}

/**
 * One access token shared by every concurrent call of a destination: at most one token request
 * in flight, and when the API refuses a token, one renewal however many calls saw it refused
 * (a caller whose refused token was already replaced gets the new one). A failed request is
 * forgotten, so the next call asks again.
 */
export class SharedToken {
  private current?: string;
  private renewAt = Infinity;
  private inFlight?: { promise: Promise<string>; force: boolean };

  /**
   * `fetch(force)`: a token and, when known, when it expires (epoch ms); `force` after a refusal means
   * "not the cached one". A token is renewed `renewBeforeMs` (default 60 000) before it expires.
   */
  constructor(
    private readonly fetch: (force: boolean) => Promise<{ token: string; expiresAt?: number }>,
    private readonly options: { renewBeforeMs?: number; now?: () => number } = {},
  ) {}

  /** The current token, fetching one when there is none or it is about to expire. */
  get(): Promise<string> {
    const now = (this.options.now ?? Date.now)();
    if (this.current !== undefined && !this.inFlight && now < this.renewAt) return Promise.resolve(this.current);
    return this.request(false);
  }

  /** A token other than `rejected`: renewed once, shared by everyone who saw `rejected` refused. */
  renew(rejected: string): Promise<string> {
    if (this.current !== undefined && this.current !== rejected) return Promise.resolve(this.current);
    return this.request(true);
  }

  /** Forgets the token (the next `get` asks again). */
  clear(): void {
    this.current = undefined;
  }

  /**
   * Forgets `rejected` if it is still the current token, so the next `get` asks again; a newer token (another
   * caller already renewed) is kept. For clients that retry a refused call themselves rather than through `withToken`.
   */
  forget(rejected: string): void {
    if (this.current === rejected) this.current = undefined;
  }

  /**
   * Runs `fn` with the token; when the API refuses it, once more with a renewed token. The second
   * answer is returned (or thrown) whatever it is: a token refused right after renewal is the
   * caller's configuration error, never a loop.
   */
  async withToken<T>(fn: (token: string) => Promise<T>, rejection: TokenRejection<T>): Promise<T> {
    const token = await this.get();
    let value: T;
    try {
      value = await fn(token);
    } catch (e) {
      if (!rejection.error?.(e)) throw e;
      return fn(await this.renew(token));
    }
    if (!rejection.result?.(value)) return value;
    return fn(await this.renew(token));
  }

  private request(force: boolean): Promise<string> {
    if (this.inFlight && (this.inFlight.force || !force)) return this.inFlight.promise;
    if (force) this.current = undefined;
    const promise = this.fetch(force).then(
      ({ token, expiresAt }) => {
        if (this.inFlight?.promise === promise) {
          this.current = token;
          this.renewAt = expiresAt === undefined ? Infinity : expiresAt - (this.options.renewBeforeMs ?? 60_000);
        }
        return token;
      },
    ).finally(() => {
      if (this.inFlight?.promise === promise) this.inFlight = undefined;
    });
    this.inFlight = { promise, force };
    return promise;
  }
}
