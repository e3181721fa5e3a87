/** An abort signal that follows others (and a deadline), and lets go of them once the call is over. */
export interface LinkedSignal {
  signal: AbortSignal;
  /** Removes the listeners from the sources and clears the deadline; the signal stays as it is. */
  dispose(): void;
}

/**
 * Aborts when any source aborts (with its reason), or after `timeoutMs` with a `TimeoutError` as
 * `AbortSignal.timeout` does. Instead of `AbortSignal.any([AbortSignal.timeout(ms), …])` on every
 * request: in Node 20 that costs tens of µs per call and keeps every signal (and its timer) alive until
 * the deadline passes, so a busy worker's heap grows with requests long answered.
 */
export function linkedSignal(sources: readonly (AbortSignal | undefined)[], timeoutMs?: number): LinkedSignal {
  const controller = new AbortController();
  const linked: { source: AbortSignal; onAbort: () => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const dispose = () => {
    if (timer) clearTimeout(timer);
    for (const { source, onAbort } of linked) source.removeEventListener('abort', onAbort);
    linked.length = 0;
  };
  for (const source of sources) {
    if (!source) continue;
    if (source.aborted) {
      controller.abort(source.reason);
      dispose();
      return { signal: controller.signal, dispose };
    }
    const onAbort = () => { controller.abort(source.reason); dispose(); };
    source.addEventListener('abort', onAbort, { once: true });
    linked.push({ source, onAbort });
  }
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => { controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')); dispose(); }, timeoutMs);
    timer.unref();
  }
  return { signal: controller.signal, dispose };
}
