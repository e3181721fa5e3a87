import { createRequire } from 'node:module';
import countries from 'i18n-iso-countries';

countries.registerLocale(createRequire(import.meta.url)('i18n-iso-countries/langs/en.json'));

/** A lead's country as Salesforce should get it: an ISO alpha-2 code, or text that is no known country. */
export type SalesforceCountry = { code: string } | { name: string };

/**
 * Reads a country as Microsoft sends it (`US`, `USA`, `United Kingdom`) into an ISO 3166-1 alpha-2 code
 * where it names a known country (alpha-2, alpha-3 or an English name or alias), else keeps the text.
 */
export function readCountry(value: string): SalesforceCountry {
  const text = value.trim();
  const upper = text.toUpperCase();
  if (/^[A-Z]{2}$/.test(upper) && countries.isValid(upper)) return { code: upper };
  if (/^[A-Z]{3}$/.test(upper) && countries.alpha3ToAlpha2(upper)) return { code: countries.alpha3ToAlpha2(upper)! };
  const byName = countries.getAlpha2Code(text, 'en');
  return byName ? { code: byName } : { name: text };
}

/** True when `code` is an ISO alpha-2 country code. */
export function isCountryCode(code: string): boolean {
  return /^[A-Z]{2}$/.test(code) && countries.isValid(code);
}

/** The alpha-2 code of an English country name or alias, if it is one. */
export function countryCodeOfName(name: string): string | undefined {
  return countries.getAlpha2Code(name.trim(), 'en');
}
