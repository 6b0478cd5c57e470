import { resolve } from 'node:path';

/** Project root (where topologies/ and schemas/ live), independent of the working directory. */
export const PROJECT_ROOT = resolve(import.meta.dirname, '..');
