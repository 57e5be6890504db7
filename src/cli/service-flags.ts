import { Flags } from '@oclif/core';

/** --backend: required by `service add`, a full replacement of the set for `service set`. */
export const backendFlag = <R extends boolean>(required: R) =>
  Flags.string({
    summary: 'Backend ADDR:PORT[:WEIGHT] (repeatable), e.g. 198.51.100.2:80:3 or [2001:db8:b::2]:80.',
    multiple: true,
    required,
  });

/** Flags `service add` and `service set` share, defined once so their help and parsing agree. */
export const serviceFlags = {
  mode: Flags.option({
    summary:
      'fullnat: backends see the balancer and reply through it; dnat: backends see the client and must route replies via the balancer.',
    options: ['fullnat', 'dnat'] as const,
  })(),
  'proxy-protocol': Flags.option({
    summary:
      'PROXY protocol header to inject: v2 (binary, as --ppv2) or v1 (the text line older backends read; no TLVs).',
    options: ['v1', 'v2'] as const,
  })(),
  'ppv2-tlv': Flags.string({
    summary:
      'PPv2 TLV (repeatable): unique-id, crc32c (both computed per connection), authority=HOST, alpn=P, 0xE0=HEX.',
    multiple: true,
  }),
  snat: Flags.string({
    summary:
      "fullnat source address towards every backend: an address of the VIP's family on the balancer (default, or auto: each backend gets the route's source towards it).",
  }),
  liveness: Flags.boolean({
    summary:
      'Health-check the backends: `lbctl agent` takes failing ones out of selection (--no-liveness: off).',
    description:
      'Backends start up; the agent marks them down after --fall failed probes and up after --rise good ones. ' +
      'Turning liveness off marks every backend up again.',
    allowNo: true,
  }),
};
