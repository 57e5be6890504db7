#!/usr/bin/env node
// Entry point of the installed `lbctl` binary (compiled JavaScript from dist/).
import { fileURLToPath } from 'node:url';
import { applyColorEnvironment } from '../dist/cli/color-env.js';

// Must run before chalk (pulled in by oclif and Ink) reads the environment.
applyColorEnvironment(process.env);
const { hoistGlobalFlags } = await import('../dist/cli/argv.js');

const { execute } = await import('@oclif/core');
await execute({
  args: hoistGlobalFlags(process.argv.slice(2)),
  // lbctl installs no user plugins: oclif would otherwise read ~/.local/share/lbctl/package.json on every
  // call, and warn about EACCES when HOME is root's but the user is not.
  loadOptions: { root: fileURLToPath(new URL('..', import.meta.url)), userPlugins: false },
});
