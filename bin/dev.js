#!/usr/bin/env -S node --import tsx
// Development entry point: runs the TypeScript sources directly through tsx, no build needed.
import { applyColorEnvironment } from '../src/cli/color-env.ts';

applyColorEnvironment(process.env);

const { execute } = await import('@oclif/core');
await execute({ development: true, dir: import.meta.url });
