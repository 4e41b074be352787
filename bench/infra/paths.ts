/** Where the bench reads and writes, found from its compiled place (dist/bench/infra/). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: BENCHMARKS.md, node_modules, bench/. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The hand-written sections the report includes as they are (notes/<group>.md beside the general ones). */
export const NOTES = path.join(ROOT, 'bench', 'notes');
/** Raw figures of every run and the partial reports (ignored by git). */
export const RESULTS = path.join(ROOT, 'bench', 'results');
/** The built `bhw`, run as a user runs it (C1). */
export const BHW = path.join(ROOT, 'dist', 'cli', 'main.js');
