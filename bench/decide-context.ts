/**
 * `npx tsx bench/decide-context.ts` — the `decideContext` section of `npm run bench` on its own
 * (no Kafka, no Redis): decide() with a context policy vs without, JSON on stdout.
 */
import { decideContextSection } from './sections.ts';

process.stdout.write(`${JSON.stringify({ decideContext: decideContextSection() }, null, 2)}\n`);
