import type { ResolvedSource } from '@leadrelay/config';
import type { Lead } from '@leadrelay/core';
import type { Relay } from '@leadrelay/queue';
import type { ReportedLead } from './source-report.js';
import type { Watermark } from './source-state.js';

/** One page of a poll: the leads in it and the watermark to commit once they are queued. */
export interface SourcePage {
  leads: Lead[];
  /** Rows the source holds that could not become a lead (logged and counted, never retried). */
  invalid: { id: string; problem: string }[];
  watermark: Watermark;
  /** Everything the source holds up to this instant has been read once this page is committed. */
  caughtUpTo: string;
}

/** A source type: reads what is newer than a watermark, page by page. */
export interface PullSource {
  /** The watermark of a first poll for `start:` (now, all = null, or a date). */
  initialWatermark(start: string, now: Date): Watermark | null;
  /** Pages newer than `from`, oldest first; the caller commits each before asking for the next. */
  pages(from: Watermark | null, now: Date): AsyncIterable<SourcePage>;
  /** Everything the source holds from `since` (for `reconcile`), whatever the watermark. */
  report?(since: Date): AsyncIterable<ReportedLead>;
  close?(): Promise<void>;
}

/** Builds the reader of one source (a factory so tests and the CLI can make their own). */
export type PullSourceFactory = (source: ResolvedSource, relay: Relay) => Promise<PullSource>;
