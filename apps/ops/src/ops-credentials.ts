import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * `ops.username` / `ops.password`, compared in constant time: both are hashed first so the
 * comparison never depends on where a guess differs or how long it is, and both are always checked.
 */
export class OpsCredentials {
  private readonly username: Buffer;
  private readonly password: Buffer;

  constructor(username: string, password: string) {
    this.username = digest(username);
    this.password = digest(password);
  }

  matches(username: string, password: string): boolean {
    const userOk = timingSafeEqual(digest(username), this.username);
    const passOk = timingSafeEqual(digest(password), this.password);
    return userOk && passOk;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
