import type { Lead } from '@leadrelay/core';
import { InvalidConfigurationError } from '@leadrelay/core';
import type { CheckResult, CommonDestinationSettings, Delivered, DestinationClient, DestinationContext } from '../destination.js';
import type { MarketoSettings } from './settings.js';

/** Placeholder until this destination's worker lands: pauses the destination rather than losing leads. */
export class MarketoClient implements DestinationClient {
  constructor(private readonly settings: MarketoSettings & CommonDestinationSettings, private readonly ctx: DestinationContext) {}

  async deliver(_lead: Lead): Promise<Delivered> {
    throw new InvalidConfigurationError('The marketo destination is not implemented yet', { remediation: 'Upgrade LeadRelay.' });
  }

  async check(): Promise<CheckResult> {
    return { ok: false, message: 'not implemented' };
  }
}
