import { z } from 'zod';
import { zDuration, zHttpUrl } from '@leadrelay/core';

export const marketoSettings = z.object({
  /** REST base, https://{munchkin}.mktorest.com. */
  restUrl: zHttpUrl(),
  /** Identity base; default `restUrl` + `/identity`. */
  identityUrl: zHttpUrl().optional(),
  clientId: z.string().min(1, 'is required'),
  clientSecret: z.string().min(1, 'is required'),
  /** `sync`: leads.json createOrUpdate (default); `push`: leads/push.json (needs programName); `form`: submitForm.json (needs formId). */
  operation: z.enum(['sync', 'push', 'form']).default('sync'),
  programName: z.string().min(1).optional(),
  formId: z.number().int().positive().optional(),
  /** Field Marketo deduplicates on (default email). */
  lookupField: z.string().min(1).default('email'),
  /** Leads per call, at most 300 (Marketo's batch limit). */
  batchSize: z.number().int().min(1).max(300, 'Marketo accepts at most 300 records per call').default(300),
  /** Longest a lead waits for a batch to fill (default 1s). */
  batchWait: zDuration().default(1000),
});
export type MarketoSettings = z.output<typeof marketoSettings>;
