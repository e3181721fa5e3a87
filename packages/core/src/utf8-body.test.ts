import { describe, expect, it } from 'vitest';
import { findInvalidUtf8, findInvalidUtf8InForm } from './utf8-body.js';

describe('findInvalidUtf8InForm', () => {
  it('valid UTF-8 forms pass, percent-encoded or not, with + and stray % left alone', () => {
    expect(findInvalidUtf8InForm(Buffer.from('first_name=Zo%C3%AB&last_name=a+b&x=100%&y=%zz&&k'))).toBeUndefined();
    expect(findInvalidUtf8InForm(Buffer.from('first_name=Zoë'))).toBeUndefined();
    expect(findInvalidUtf8InForm(Buffer.from(''))).toBeUndefined();
  });

  it('a percent-encoded Latin-1 byte: the field holding it and the offset of its escape', () => {
    expect(findInvalidUtf8InForm(Buffer.from('lead_source=S-A%7Co&first_name=Zo%EB'))).toEqual({ offset: 33, path: 'first_name' });
    // A truncated sequence (%C3 without its continuation byte).
    expect(findInvalidUtf8InForm(Buffer.from('company=%C3&x=1'))).toEqual({ offset: 8, path: 'company' });
  });

  it('a raw invalid byte, in a value or in a name', () => {
    expect(findInvalidUtf8InForm(Buffer.concat([Buffer.from('a=1&company=Zo'), Buffer.from([0xeb])]))).toEqual({ offset: 14, path: 'company' });
    expect(findInvalidUtf8InForm(Buffer.from('a=1&na%FFme=x'))).toEqual({ offset: 6, path: '' });
  });

  it('JSON bodies still name the JSON value', () => {
    expect(findInvalidUtf8(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff]), Buffer.from('"}')]), true)).toEqual({ offset: 6, path: 'a' });
  });
});
