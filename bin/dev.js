#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript sources directly through tsx, no build needed.
import { applyColorEnvironment } from '../src/cli/color-env.ts';

applyColorEnvironment(process.env);
const { hoistGlobalFlags } = await import('../src/cli/argv.ts');

const { execute } = await import('@oclif/core');
await execute({ args: hoistGlobalFlags(process.argv.slice(2)), development: true, dir: import.meta.url });
