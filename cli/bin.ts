#!/usr/bin/env node
// The `cert-allowlist` command, as the package installs it (compiled to dist/cli/bin.js).
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
