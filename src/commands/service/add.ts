import { Args, Flags } from '@oclif/core';
import type { ApplyReport } from '../../cli/apply-render.js';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { dryRunFlag } from '../../cli/guard-flags.js';
import { backendFlag, serviceFlags } from '../../cli/service-flags.js';
import { renderServiceDetail } from '../../cli/service-render.js';
import { parseEndpoint } from '../../core/endpoint.js';
import { planAdd } from '../../core/service-plan.js';
import {
  PROTOCOLS,
  parseBackend,
  parsePpv2Options,
  proxyVersionFromFlags,
  type ServiceSpec,
  validateService,
} from '../../core/service-spec.js';
import { addService, listServices, type ServiceView } from '../../core/services.js';
import { snatFor } from '../../core/snat.js';
import { saveState, withInstanceLock } from '../../core/state-file.js';

export default class ServiceAdd extends DatapathCommand<typeof ServiceAdd> {
  static override summary =
    'Add a TCP or UDP service (VIP:PORT) with its backends, optionally injecting a PROXY protocol v2 or v1 header.';

  static override description =
    `New connections to VIP:PORT are spread over the backends by a weighted Maglev table and then stay
on their backend. With --ppv2, each connection's byte stream starts with a PROXY v2 header carrying the client's
real address and port; with --proxy-protocol v1, the v1 text line instead (TCP only). A UDP service (--protocol
udp) tracks flows (client address and port) with their own idle timeout (config set --timeout-udp); with --ppv2
every datagram towards a backend carries its own header, and replies go back from VIP:PORT without one. A
datagram the header would push past the egress MTU is dropped and counted (drop_udp_too_big), never fragmented.
The service goes live only once it is complete; invalid input changes nothing.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80 --backend 198.51.100.2:80 --backend 198.51.100.3:80 --ppv2',
    '<%= config.bin %> <%= command.id %> [2001:db8:f::10]:443 --backend [2001:db8:b::2]:443:3 --backend [2001:db8:b::3]:443:1 --ppv2 --ppv2-tlv unique-id --ppv2-tlv crc32c --name web6',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:8080 --backend 198.51.100.4:8080 --mode dnat --ppv2 --ppv2-tlv 0xE0=01020304',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:25 --backend 198.51.100.5:25 --proxy-protocol v1 --name smtp',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:443 --backend 198.51.100.2:443 --backend 198.51.100.3:443 --ppv2 --liveness --name tls',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:81 --backend 198.51.100.2:81 --dry-run',
    '<%= config.bin %> <%= command.id %> 203.0.113.10:53 --protocol udp --backend 198.51.100.2:53 --backend 198.51.100.3:53 --ppv2 --name dns',
  ];

  static override args = {
    vip: Args.string({
      description: 'Virtual IP and port, e.g. 203.0.113.10:80 or [2001:db8:f::10]:80.',
      required: true,
    }),
  };

  static override flags = {
    ...serviceFlags,
    protocol: Flags.option({
      summary: 'tcp (connections) or udp (flows; with --ppv2 a header on every datagram).',
      options: PROTOCOLS,
      default: 'tcp' as const,
    })(),
    backend: backendFlag(true),
    ppv2: Flags.boolean({
      summary: 'Inject a PROXY protocol v2 header at the start of each connection (UDP: on every datagram).',
      default: false,
    }),
    name: Flags.string({ summary: 'A name to refer to the service by (lower-case letters, digits, "-").' }),
    ...dryRunFlag,
  };

  public async run(): Promise<ServiceView | ApplyReport> {
    const spec = validateService(this.specFromFlags());
    const snat = await snatFor(spec, this.flags.snat);
    if (this.flags['dry-run']) {
      const plan = await this.withDatapath((maps, state) =>
        planAdd(listServices(maps, state), spec, snat, state.lastServiceId ?? 0),
      );
      return this.printPlan([plan]);
    }
    const service = await withInstanceLock(this.instance, () =>
      this.withDatapath((maps, state) => {
        const added = addService(maps, state, spec, snat);
        saveState(this.instance, state);
        return added;
      }),
    );
    // The table costs about 0.35 ms a backend (cli-table3): --json output skips building it.
    if (!this.jsonEnabled()) this.log(renderServiceDetail(service, this.listing()));
    return service;
  }

  private specFromFlags(): ServiceSpec {
    const { flags } = this;
    const options = parsePpv2Options(flags['ppv2-tlv'] ?? []);
    // --ppv2 defaults to false here: absent, not --no-ppv2 (add has no --no-ppv2).
    const version = proxyVersionFromFlags(flags.ppv2 || undefined, flags['proxy-protocol']);
    return {
      name: flags.name,
      vip: parseEndpoint(this.args.vip),
      protocol: flags.protocol,
      mode: flags.mode ?? 'fullnat',
      backends: (flags.backend ?? []).map(parseBackend),
      ppv2: { enabled: version !== undefined, version: version ?? 2, ...options },
      liveness: flags.liveness ?? false,
    };
  }
}
