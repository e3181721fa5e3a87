import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runUntilSignal } from '@leadrelay/observability';
import { startInbox } from './inbox-server.js';

export { buildInbox, startInbox, type InboxOptions, type RunningInbox } from './inbox-server.js';
export { ReceivedLeads, type ReceivedLead } from './received-leads.js';

/** `node apps/inbox/dist/index.js` runs the inbox; importing this module does not. */
function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  try {
    await runUntilSignal([() => startInbox()]);
  } catch (e) {
    console.error(`inbox: ${(e as Error).message}`);
    process.exit(1);
  }
}
