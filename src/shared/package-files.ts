/**
 * Files that ship with the trustline package (the model, the demo fixture) are found relative to
 * the package, never the working directory, so the CLI works from any directory and from an
 * installed package. This module sits at `src/shared/` in the repository and at
 * `dist/src/shared/` in the build; the package root is the nearest directory above it that holds
 * a package.json (docs/decisions.md, "Packaging").
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** Absolute path of the trustline package (the repository root in a clone). */
export const PACKAGE_ROOT = findPackageRoot();

/** Absolute path of a file shipped with the package, e.g. `packageFile('models/trustline-tailsum.json')`. */
export function packageFile(relativePath: string): string {
  return join(PACKAGE_ROOT, relativePath);
}

/** The model card that ships with trustline (config `model.card` default). */
export const BUNDLED_MODEL_CARD = packageFile('models/trustline-tailsum.json');
