/** The model card the evaluation commands use by default: the configuration's `model.card` (src/config/config.ts). */
import { isAbsolute, relative, resolve } from 'node:path';
import { loadConfig } from '../../src/config/config.ts';

/** The configured card, relative to the working directory when it lies inside it (reports never embed machine paths). */
export function defaultCardPath(): string {
  const card = loadConfig({ env: {} }).model.card;
  const rel = relative(process.cwd(), resolve(card));
  return rel.startsWith('..') || isAbsolute(rel) ? card : rel;
}
