#!/usr/bin/env node
// Entry point of the installed `lbctl` binary (compiled JavaScript from dist/).
import { applyColorEnvironment } from '../dist/cli/color-env.js';

// Must run before chalk (pulled in by oclif and Ink) reads the environment.
applyColorEnvironment(process.env);
const { hoistGlobalFlags } = await import('../dist/cli/argv.js');

const { execute } = await import('@oclif/core');
await execute({ args: hoistGlobalFlags(process.argv.slice(2)), dir: import.meta.url });
