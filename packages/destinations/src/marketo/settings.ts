import { z } from 'zod';
import { DURATION_HELP, zDuration, zHttpUrl } from '@leadrelay/core';

export const marketoSettings = z.object({
  restUrl: zHttpUrl().describe('REST API base, https://<munchkin id>.mktorest.com.'),
  identityUrl: zHttpUrl().optional().describe('Identity (token) base. Default: restUrl + /identity.'),
  clientId: z.string().min(1, 'is required').describe('Client id of the LaunchPoint custom service.'),
  clientSecret: z.string().min(1, 'is required').describe('Client secret of the LaunchPoint custom service.'),
  operation: z.enum(['sync', 'push', 'form']).default('sync')
    .describe('sync: leads.json createOrUpdate; push: leads/push.json into a program (needs programName); form: submitForm.json (needs formId).'),
  programName: z.string().min(1).optional().describe('Program the leads are pushed into; required with operation: push. Default: none.'),
  formId: z.number().int().positive().optional().describe('Form the leads are submitted to; required with operation: form. Default: none.'),
  formFields: z.enum(['on-form', 'all']).default('on-form')
    .describe("operation: form only. on-form: read the form's fields (Asset API, needs Read-Only Assets) and send only those, "
      + "as Submit Form is believed to skip a record with a field not on the form (1006; Adobe does not document it). "
      + 'all: send every mapped field without reading the form.'),
  lookupField: z.string().min(1).default('email').describe('Field Marketo deduplicates leads on.'),
  batchSize: z.number().int().min(1).max(300, 'Marketo accepts at most 300 records per call').default(300)
    .describe("Leads per call, at most 300 (Marketo's batch limit)."),
  batchWait: zDuration().prefault('1s').describe(`Longest a lead waits for a batch to fill. ${DURATION_HELP}`),
});
export type MarketoSettings = z.output<typeof marketoSettings>;
