import { Flags } from '@oclif/core';
import { DatapathCommand } from '../cli/datapath-command.js';
import { outputFlag } from '../cli/output-format.js';
import { SERVICE_REF } from '../cli/service-arg.js';
import { counterRows, cpuRows, renderCounterRows, shownCounters } from '../cli/stats-render.js';
import { type CountersJson, counterReadingToJson, readCounterReading } from '../core/counter-snapshot.js';
import { findService, listServices, type ServiceView } from '../core/services.js';
import { countersToJson, GLOBAL_SLOT, readCountersPerCpu } from '../core/stats.js';

export interface StatsOutput extends CountersJson {
  perCpu?: Array<Record<string, number>>;
}

export default class Stats extends DatapathCommand<typeof Stats> {
  static override summary = 'Show the datapath counters: balancer-wide and per service, summed over CPUs.';

  static override description =
    `Counters are totals since the instance was attached (a service's start at zero when it is added).
Traffic counters are fwd_* (client to backend) and rev_* (backend to client); ppv2_* count injected headers and
re-injections; ppv2_fail_* and drop_* say why something was not done. Zero counters are hidden unless --all.
The table has one row per service (and the total): connections, packets and bytes each way, headers injected
and drops (every drop_*, ppv2_fail_* and ppv2_syn_data summed); every other counter that is not zero is listed below it, with
the services it counted for. -o wide has one column per counter instead.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --service 203.0.113.10:80',
    '<%= config.bin %> <%= command.id %> -o wide --all',
    "<%= config.bin %> <%= command.id %> --json | jq '.services[] | {key, injected: .counters.ppv2_injected}'",
  ];

  static override flags = {
    service: Flags.string({ summary: `Only this service (its ${SERVICE_REF}).` }),
    all: Flags.boolean({ summary: 'Show zero counters too.', default: false }),
    'per-cpu': Flags.boolean({ summary: 'Add the balancer-wide counters of each CPU.', default: false }),
    ...outputFlag,
  };

  public async run(): Promise<StatsOutput> {
    const output = await this.withDatapath((maps, state) => {
      const services: ServiceView[] = this.flags.service
        ? [findService(maps, state, this.flags.service)]
        : listServices(maps, state);
      const doc: StatsOutput = counterReadingToJson(readCounterReading(maps, services));
      if (this.flags['per-cpu']) doc.perCpu = readCountersPerCpu(maps, GLOBAL_SLOT).map(countersToJson);
      return doc;
    });
    this.log(this.render(output));
    return output;
  }

  private render(output: StatsOutput): string {
    const rows = counterRows(output);
    const names = shownCounters(rows, this.flags.all);
    if (names.length === 0) return 'all counters are zero (no traffic yet)';
    const text = renderCounterRows('service', rows, names, this.listing());
    if (!output.perCpu) return text;
    return `${text}\n${renderCounterRows('cpu', cpuRows(output.global, output.perCpu), names, this.listing())}`;
  }
}
