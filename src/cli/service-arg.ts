import { Args } from '@oclif/core';

/** How a service is named on the command line; core/services.ts resolveService reads it. */
export const SERVICE_REF = 'id (as service list shows it), name or VIP:PORT';

export const serviceArg = {
  service: Args.string({ description: `The service: its ${SERVICE_REF}.`, required: true }),
};
