import { expect } from 'vitest';
import { DeliveryError } from '@leadrelay/core';

/** Awaits a delivery that must fail, and returns its classified DeliveryError. */
export async function deliveryFailure(p: Promise<unknown>): Promise<DeliveryError> {
  const outcome = await p.then(() => undefined, (e: unknown) => e);
  if (outcome === undefined) throw new Error('expected the delivery to fail');
  expect(outcome).toBeInstanceOf(DeliveryError);
  return outcome as DeliveryError;
}
