import { Flags } from '@oclif/core';
import type { Counters } from '../bpf/records.js';
import { DatapathCommand } from '../cli/datapath-command.js';
import { renderTable } from '../cli/output.js';
import { type CountersJson, counterReadingToJson, readCounterReading } from '../core/counter-snapshot.js';
import { DatapathMaps } from '../core/maps.js';
import { findService, listServices, type ServiceView } from '../core/services.js';
import { loadState } from '../core/state-file.js';
import { countersToJson, GLOBAL_SLOT, readCountersPerCpu } from '../core/stats.js';

export interface StatsOutput extends CountersJson {
  perCpu?: Array<Record<string, number>>;
}

export default class Stats extends DatapathCommand<typeof Stats> {
  static override summary = 'Show the datapath counters: balancer-wide and per service, summed over CPUs.';

  static override description =
    `Counters are totals since the instance was attached (a service's start at zero when it is added).
Traffic counters are fwd_* (client to backend) and rev_* (backend to client); ppv2_* count injected headers and
re-injections; ppv2_fail_* and drop_* say why something was not done. Zero counters are hidden unless --all.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --service 203.0.113.10:80',
    "<%= config.bin %> <%= command.id %> --json | jq '.services[] | {key, injected: .counters.ppv2_injected}'",
  ];

  static override flags = {
    service: Flags.string({ summary: 'Only this service (name or VIP:PORT).' }),
    all: Flags.boolean({ summary: 'Show zero counters too.', default: false }),
    'per-cpu': Flags.boolean({ summary: 'Add the balancer-wide counters of each CPU.', default: false }),
  };

  public async run(): Promise<StatsOutput> {
    const maps = DatapathMaps.open(this.instance);
    try {
      const state = loadState(this.instance);
      const services: ServiceView[] = this.flags.service
        ? [findService(maps, state, this.flags.service)]
        : listServices(maps, state);
      const reading = readCounterReading(maps, services);
      const { global, services: perService } = reading;
      const output: StatsOutput = counterReadingToJson(reading);
      if (this.flags['per-cpu']) output.perCpu = readCountersPerCpu(maps, GLOBAL_SLOT).map(countersToJson);
      this.log(this.render(global, perService, output.perCpu));
      return output;
    } finally {
      maps.close();
    }
  }

  private render(
    global: Counters,
    perService: Array<{ service: ServiceView; counters: Counters }>,
    perCpu: Array<Record<string, number>> | undefined,
  ): string {
    const names = (Object.keys(global) as Array<keyof Counters>).filter(
      (name) => this.flags.all || global[name] !== 0n || perService.some((s) => s.counters[name] !== 0n),
    );
    if (names.length === 0) return 'all counters are zero (no traffic yet)';
    const head = ['counter', 'total', ...perService.map(({ service }) => service.name ?? service.key)];
    const rows = names.map((name) => [
      name,
      String(global[name]),
      ...perService.map((s) => String(s.counters[name])),
    ]);
    let text = renderTable(head, rows);
    if (perCpu) {
      text += `\n${renderTable(
        ['counter', ...perCpu.map((_, cpu) => `cpu${cpu}`)],
        names.map((name) => [name, ...perCpu.map((c) => String(c[name] ?? 0))]),
      )}`;
    }
    return text;
  }
}
