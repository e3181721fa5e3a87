import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedFiles, REPOSITORY_ROOT } from './generated-files.js';

// Every file is computed before any is written, so a failure (e.g. a table with no place in the page) changes nothing.
for (const { path, text } of generatedFiles()) {
  writeFileSync(join(REPOSITORY_ROOT, path), text);
  console.log(`wrote ${path}`);
}
