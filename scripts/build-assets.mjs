// Part of `npm run build`: copies the files the compiled code reads at run time next to it
// (tsc only emits .js/.d.ts). Today: the Redis Lua scripts of src/state/lua/.
import { cpSync } from 'node:fs';

cpSync('src/state/lua', 'dist/src/state/lua', { recursive: true, filter: (src) => !src.includes('.') || src.endsWith('.lua') });
