import { Flags } from '@oclif/core';

/** --dry-run on the commands that change the datapath: the plan is printed and nothing changes. */
export const dryRunFlag = {
  'dry-run': Flags.boolean({ summary: 'Print what would change, and change nothing.', default: false }),
};

/** --yes on the commands that ask before a destructive change (only on a terminal: see confirm.ts). */
export const yesFlag = {
  yes: Flags.boolean({
    char: 'y',
    summary: 'Do not ask for confirmation (without a terminal lbctl never asks).',
    default: false,
  }),
};
