import type { DemoRow, LabState } from '../lab/lab.js';
import { renderKeyValue, renderTable } from './output.js';

/** How the lab describes itself, shared by `lab up`, `lab status` and `lab demo`. */
export function renderLabSummary(lab: LabState): string {
  const t = lab.topology;
  return renderKeyValue([
    ['client namespace', `${t.ns.client} (${[...t.client.ipv4, ...t.client.ipv6].join(', ')})`],
    ['balancer namespace', `${t.ns.lb} (lbctl on ${t.ifaces.lbClient} and ${t.ifaces.lbBackend})`],
    ['backends namespace', `${t.ns.backends} (${lab.processes.map((p) => p.role).join(', ')})`],
    ['VIPs', `${t.vip.ipv4}, ${t.vip.ipv6}`],
  ]);
}

export function renderDemo(rows: readonly DemoRow[]): string {
  return renderTable(
    ['service', 'real client', 'backend', 'client per PPv2', 'TCP peer', 'UNIQUE_ID'],
    rows.map((r) => [r.service, r.client, r.backend, r.backendSawClient, r.backendPeer, r.uniqueId]),
  );
}

export function renderLabHints(lab: LabState): string {
  const t = lab.topology;
  return [
    'Try:',
    `  lbctl --netns ${t.ns.lb} service list`,
    `  lbctl --netns ${t.ns.lb} stats`,
    `  ip netns exec ${t.ns.client} curl -s http://${t.vip.ipv4}/whoami`,
    '  lbctl lab demo      # send traffic again',
    '  lbctl lab down      # remove everything',
  ].join('\n');
}
