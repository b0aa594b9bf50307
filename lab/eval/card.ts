/** The model card the evaluation commands use by default: the configuration's `model.card` (src/config/config.ts). */
import { loadConfig } from '../../src/config/config.ts';

export function defaultCardPath(): string {
  return loadConfig({ env: {} }).model.card;
}
