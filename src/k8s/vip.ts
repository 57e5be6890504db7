import { canonicalIpAddress, parseIpAddress } from '../ppv2/ip-address.js';
import { type AddressesByFamily, ANNOTATIONS } from './annotations.js';
import { childPath, fieldError } from './fields.js';
import type { ServiceObject } from './objects.js';

/**
 * The VIPs of a Service, from the first of these that gives any address (they are not mixed):
 *   1. the `lbctl.io/vip` annotation (one address per family),
 *   2. `spec.loadBalancerIP`,
 *   3. `status.loadBalancer.ingress[].ip` (what the cluster's load balancer controller assigned).
 * A dual-stack Service yields one VIP per family, and lbctl makes one service per family.
 */
export interface Vip {
  family: 4 | 6;
  address: string;
  /** The field it came from, for messages. */
  from: string;
}

const VIP_HINT = `set metadata.annotations["${ANNOTATIONS.vip}"], spec.loadBalancerIP or status.loadBalancer.ingress[].ip`;

export function resolveVips(service: ServiceObject, annotated: AddressesByFamily | undefined): Vip[] {
  if (annotated && annotated.size > 0) {
    const from = childPath('metadata.annotations', ANNOTATIONS.vip);
    return sortByFamily([...annotated].map(([family, address]) => ({ family, address, from })));
  }
  if (service.loadBalancerIP !== undefined) {
    return [checkedVip(service, 'spec.loadBalancerIP', service.loadBalancerIP)];
  }
  const vips: Vip[] = [];
  for (const { index, ip } of service.ingressIps) {
    const vip = checkedVip(service, `status.loadBalancer.ingress[${index}].ip`, ip);
    const clash = vips.find((v) => v.family === vip.family);
    if (clash) {
      throw fieldError(
        { doc: service.doc, path: vip.from },
        `is a second IPv${vip.family} VIP (${clash.from} is ${clash.address})`,
        `lbctl serves one VIP per family; pick one with metadata.annotations["${ANNOTATIONS.vip}"]`,
      );
    }
    vips.push(vip);
  }
  if (vips.length === 0) throw fieldError({ doc: service.doc, path: '' }, 'has no VIP', VIP_HINT);
  return sortByFamily(vips);
}

function checkedVip(service: ServiceObject, from: string, text: string): Vip {
  const parsed = parseIpAddress(text);
  if (!parsed) throw fieldError({ doc: service.doc, path: from }, `"${text}" is not an IP address`);
  return { family: parsed.family, address: canonicalIpAddress(text) as string, from };
}

const sortByFamily = (vips: Vip[]) => vips.sort((a, b) => a.family - b.family);
