#!/usr/bin/env node
// Cache V8's compiled code on disk between runs (Node >= 22.1): sigil is a short-lived CLI
// whose start-up is mostly compiling undici and yargs.
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
