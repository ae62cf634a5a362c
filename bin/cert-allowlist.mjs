#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, which the project installs with npm ci.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
