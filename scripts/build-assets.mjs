// Part of `npm run build`: copies the files the compiled code reads at run time next to it
// (tsc only emits .js/.d.ts) — today the Redis Lua scripts of src/state/lua/ — and stamps the
// build time in dist/.built (bin/trustline.js notes in a clone when sources are newer).
import { cpSync, writeFileSync } from 'node:fs';

cpSync('src/state/lua', 'dist/src/state/lua', { recursive: true, filter: (src) => !src.includes('.') || src.endsWith('.lua') });
writeFileSync('dist/.built', `${new Date().toISOString()}\n`);
