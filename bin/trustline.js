#!/usr/bin/env node
// Entry point for `npx trustline <command>`: the compiled CLI (dist/, written by `npm run build`,
// which `npm ci` runs through the prepare script). No TypeScript loader at run time.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
