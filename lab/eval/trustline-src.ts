/**
 * `trustline <command>` from this checkout's sources (the same `main()` bin/trustline.js runs from
 * its dist/ build), so an evaluation measures the code it sits in, never a stale build.
 * Usage: node --import tsx lab/eval/trustline-src.ts <command> [args…]
 */
import { main } from '../../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
