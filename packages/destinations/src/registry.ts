import type { DestinationDefinition } from './destination.js';
import { https } from './https/index.js';
import { azureTable } from './azure-table/index.js';
import { dynamics } from './dynamics/index.js';
import { marketo } from './marketo/index.js';
import { salesforce } from './salesforce/index.js';

/** Every destination type, by its `type:` value in leadrelay.yaml. */
export const destinationTypes = {
  https,
  'azure-table': azureTable,
  dynamics,
  marketo,
  salesforce,
} as const satisfies Record<string, DestinationDefinition<any>>;

export function getDestinationType(type: string): DestinationDefinition<any> | undefined {
  return (destinationTypes as Record<string, DestinationDefinition<any>>)[type];
}
