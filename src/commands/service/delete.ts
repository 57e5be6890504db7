import type { ApplyReport } from '../../cli/apply-render.js';
import { confirmOrAbort, mustAsk, processStreams } from '../../cli/confirm.js';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { dryRunFlag, yesFlag } from '../../cli/guard-flags.js';
import { serviceArg } from '../../cli/service-arg.js';
import { liveConnectionKeys } from '../../core/connections.js';
import { planDelete } from '../../core/service-plan.js';
import { deleteService, findService, type ServiceView } from '../../core/services.js';
import { saveState, withInstanceLock } from '../../core/state-file.js';

export default class ServiceDelete extends DatapathCommand<typeof ServiceDelete> {
  static override summary = 'Delete a service. New connections to its VIP stop matching at once.';

  static override description =
    `Open connections are not cut: conntrack keeps their backend, NAT and PPv2 state, so they continue
byte-exact until they close, and their entries then expire by the idle timeouts (lbctl config show). New
connections to the VIP are no longer answered by lbctl: the balancer namespace's routing decides what the
client sees (with no route to the VIP, ICMP unreachable: connect fails at once). See "Live changes" in the
README.

On a terminal, a service with live connections is deleted only after a yes to the question (--yes skips it);
without a terminal (scripts) it is deleted at once.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80',
    '<%= config.bin %> <%= command.id %> web6',
    '<%= config.bin %> <%= command.id %> 3 --yes',
    '<%= config.bin %> <%= command.id %> 3 --dry-run',
  ];

  static override args = serviceArg;

  static override flags = { ...dryRunFlag, ...yesFlag };

  public async run(): Promise<{ deleted: ServiceView } | ApplyReport> {
    // Counting live connections reads the whole connection table: only for a dry run or a question.
    const count = this.flags['dry-run'] || mustAsk(processStreams(), this.flags.yes);
    const { service, live } = await this.withDatapath((maps, state) => {
      const found = findService(maps, state, this.args.service);
      const keys = count ? liveConnectionKeys(maps) : [];
      return { service: found, live: keys.filter((c) => c.serviceId === found.id).length };
    });
    const label = service.name ? `${service.name} (${service.key})` : service.key;
    const liveNote = `${live} live connection(s) of ${label} continue until they close; new ones get no answer from lbctl`;
    if (this.flags['dry-run']) return this.printPlan([planDelete(service)], live > 0 ? [liveNote] : []);
    if (live > 0) await confirmOrAbort([liveNote], `Delete service ${label}?`, { yes: this.flags.yes });
    const deleted = await withInstanceLock(this.instance, () =>
      this.withDatapath((maps, state) => {
        // Looked up again under the lock, by its key: the service asked about, not whatever the reference
        // names by now.
        const current = findService(maps, state, service.key);
        deleteService(maps, state, current);
        saveState(this.instance, state);
        return current;
      }),
    );
    this.log(`deleted service ${label}`);
    return { deleted };
  }
}
