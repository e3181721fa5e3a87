import {
  InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError, parseRetryAfter,
  type DeliveryError,
} from '@leadrelay/core';
import { DEFAULT_THROTTLE_MS, classifyHttpFailure, networkFailure } from '../shared/index.js';

/** What an @azure/data-tables failure says, read from wherever the SDK put it. */
export interface TableFailure {
  /** HTTP status (of the sub-response, for a transaction). */
  status?: number;
  /** The service's error code (`EntityAlreadyExists`), or a network code (`ECONNREFUSED`). */
  code?: string;
  /** The service's message, first line only (without RequestId/Time). */
  message: string;
  /** In a failed transaction: the index of the operation the service blamed. */
  index?: number;
  retryAfter?: string;
  /** The call was cut by our own deadline. */
  timedOut: boolean;
}

interface RestErrorLike {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string; odataError?: { code?: string; message?: { value?: string } }; Code?: string; Message?: string };
  response?: { headers?: { get?(name: string): string | undefined } };
}

/**
 * Reads a failure from the SDK. On single operations the service code is in `details.errorCode` (from
 * `x-ms-error-code`) and `code` is undefined; on transactions it is in `code` and the message starts with
 * the failing operation's index (`"1:The specified entity already exists."`).
 */
export function readTableFailure(e: unknown): TableFailure {
  const err = (e ?? {}) as RestErrorLike;
  const details = err.details;
  const code = details?.errorCode ?? details?.odataError?.code ?? details?.Code ?? err.code;
  let message = details?.odataError?.message?.value ?? details?.Message ?? err.message ?? String(e);
  let index: number | undefined;
  const indexed = /^(\d+):(.*)$/s.exec(message);
  if (indexed && err.details === undefined) {
    index = Number(indexed[1]);
    message = indexed[2]!;
  }
  message = message.split('\n')[0]!.trim();
  return {
    status: typeof err.statusCode === 'number' ? err.statusCode : undefined,
    code,
    message,
    index,
    retryAfter: err.response?.headers?.get?.('retry-after') ?? undefined,
    timedOut: err.name === 'AbortError',
  };
}

export interface ClassifyContext {
  /** How the table is named in messages, e.g. `Azure Table storage (https://acct.table.core.windows.net, table MarketplaceLeads)`. */
  what: string;
  destinationId: string;
  timeoutMs: number;
  /** Removes secrets (AccountKey, SAS) from any text. */
  redact(text: string): string;
}

const AUTHENTICATION_CODES = new Set(['AuthenticationFailed', 'AuthorizationFailure', 'InvalidAuthenticationInfo', 'NoAuthenticationInformation']);

/**
 * Delivery outcomes for Azure Table (README: Destinations → Azure Table): 409 EntityAlreadyExists is success and handled by the caller; 400s are permanent;
 * a refused key is an authentication failure; other 403s (SAS permissions, IP rules) configuration;
 * ServerBusy/429 throttle; 5xx, timeouts and network errors are transient.
 */
export function classifyAzureTableFailure(e: unknown, c: ClassifyContext): DeliveryError {
  const f = readTableFailure(e);
  const message = c.redact(f.message);
  const resume = `\`leadrelay resume ${c.destinationId}\``;
  if (f.timedOut) return new RetryableError(`${c.what} did not answer within ${c.timeoutMs}ms`, { destinationCode: 'ETIMEDOUT', cause: e });
  if (/allowInsecureConnection/.test(f.message)) {
    return new InvalidConfigurationError(`${c.what} uses plain http, which is refused for this host`, {
      destinationCode: 'InsecureConnection',
      remediation: `Use an https TableEndpoint in connectionString, or set allowInsecure: true on this destination for a local emulator such as Azurite, then ${resume}.`,
    });
  }
  if (f.status === undefined) return networkFailure(c.what, f.code, message);

  const detail = `${c.what} answered HTTP ${f.status}${f.code ? ` ${f.code}` : ''}: ${message}`;
  const common = { status: f.status, destinationCode: f.code ?? String(f.status) };
  if (f.status === 403 || f.status === 401) {
    if (f.code === undefined || AUTHENTICATION_CODES.has(f.code)) {
      return new InvalidAuthenticationError(detail, {
        ...common,
        remediation: `The storage account refused the key in connectionString (AccountKey or SharedAccessSignature is wrong, rotated or expired): copy a current connection string from the storage account's "Access keys" page into this destination's connectionString, then ${resume}.`,
      });
    }
    return new InvalidConfigurationError(detail, {
      ...common,
      remediation: `The key in connectionString may not do this (${f.code}): use an account key, or a SAS allowing table create/add on the Table service from the worker's IP, then ${resume}.`,
    });
  }
  if (f.status === 429 || f.code === 'ServerBusy') {
    return new ThrottledError(detail, parseRetryAfter(f.retryAfter) ?? DEFAULT_THROTTLE_MS, common);
  }
  if (f.code === 'TableNotFound') {
    return new InvalidConfigurationError(detail, {
      ...common,
      remediation: `The table does not exist and could not be created with this key: create it in the storage account (or use a key allowed to create tables), then ${resume}.`,
    });
  }
  if (f.status === 404) {
    return new InvalidConfigurationError(detail, {
      ...common,
      remediation: `Check AccountName and TableEndpoint in connectionString (the account or path was not found), then ${resume}.`,
    });
  }
  if (f.status === 409) return new RetryableError(detail, common); // TableBeingDeleted and the like pass with time
  if (f.status === 400 || f.status === 413) {
    const remediation = f.code === 'EntityTooLarge' || f.code === 'PropertyValueTooLarge' || f.code === 'TooManyProperties' || f.code === 'RequestBodyTooLarge'
      ? 'The entity exceeds Azure Table limits (1 MiB per entity, 64 KiB per property, 252 properties): shorten or drop fields: values for this destination, then `leadrelay dlq replay --id <leadId>`.'
      : f.code === 'PropertyNameInvalid' || f.code === 'PropertyNameTooLong' || f.code === 'DuplicatePropertiesSpecified'
        ? 'Rename the offending fields: entry of this destination to a valid Azure Table property name, then `leadrelay dlq replay --id <leadId>`.'
        : 'Azure Table rejected this entity: check the lead\'s values and this destination\'s fields:, then `leadrelay dlq replay --id <leadId>`.';
    return new PayloadValidationError(detail, { ...common, remediation });
  }
  return classifyHttpFailure({ status: f.status, message: `${f.code ? `${f.code}: ` : ''}${message}`, retryAfter: f.retryAfter, destinationCode: f.code }, c.what);
}
