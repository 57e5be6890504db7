import type { Endpoint } from '../core/endpoint.js';
import { parseIpAddress } from '../ppv2/ip-address.js';
import { fieldError } from './fields.js';
import {
  type EndpointPort,
  type EndpointSliceObject,
  type EndpointsObject,
  type ManifestContents,
  SERVICE_NAME_LABEL,
  type ServiceObject,
  type ServicePort,
} from './objects.js';

/**
 * A Service port's backends, found the way Kubernetes finds them:
 * - EndpointSlices with the label kubernetes.io/service-name=<Service name> in the Service's namespace; when
 *   the input has none for the Service, the Endpoints object of the same name and namespace.
 * - A slice (or Endpoints subset) port belongs to the Service port of the same name ("" for an unnamed
 *   port), and its number is the resolved targetPort. A slice that lists ports but none of that name does
 *   not serve the Service port.
 * - A slice with no ports, or a matching port without a number ("all ports"), uses the numeric targetPort
 *   (or `port` when targetPort is absent); a named targetPort resolves only through a slice port.
 * - Only ready endpoints count (`conditions.ready: false` is left out, absent means ready; Endpoints'
 *   notReadyAddresses are never read), only the first address of each endpoint, and only slices whose
 *   addressType is the VIP's family. Duplicates across slices count once.
 */
export interface EndpointIndex {
  slices: Map<string, EndpointSliceObject[]>;
  endpoints: Map<string, EndpointsObject>;
}

/** One slice, or one Endpoints subset: ports shared by a set of addresses. */
interface EndpointGroup {
  ports: EndpointPort[];
  addresses: Array<{ address: string; family: 4 | 6; ready: boolean }>;
}

const serviceKey = (namespace: string, name: string) => `${namespace}/${name}`;

export function indexEndpoints(contents: Pick<ManifestContents, 'slices' | 'endpoints'>): EndpointIndex {
  const slices = new Map<string, EndpointSliceObject[]>();
  for (const slice of contents.slices) {
    if (slice.serviceName === undefined) continue;
    const key = serviceKey(slice.namespace, slice.serviceName);
    slices.set(key, [...(slices.get(key) ?? []), slice]);
  }
  const endpoints = new Map(contents.endpoints.map((e) => [serviceKey(e.namespace, e.name), e]));
  return { slices, endpoints };
}

export function backendsFor(
  service: ServiceObject,
  port: ServicePort,
  family: 4 | 6,
  index: EndpointIndex,
): Endpoint[] {
  const key = serviceKey(service.namespace, service.name);
  const slices = index.slices.get(key);
  const endpoints = index.endpoints.get(key);
  const where = { doc: service.doc, path: `spec.ports[${port.index}]` };
  const sourceKind = slices ? 'EndpointSlice' : 'Endpoints';
  const groups = slices ? slices.flatMap(sliceGroup) : (endpoints?.subsets.map(subsetGroup) ?? []);
  if (!slices && !endpoints) {
    throw fieldError(
      where,
      `has no endpoints: the input has no EndpointSlice labelled ${SERVICE_NAME_LABEL}=${service.name} and no Endpoints ${service.name} in namespace ${service.namespace}`,
      'add them to the input, e.g. kubectl get svc,endpointslices -o yaml',
    );
  }

  const backends = new Map<string, Endpoint>();
  let served = false;
  let notReady = 0;
  const otherNames = new Set<string>();
  for (const group of groups) {
    const number = groupPort(group, port, otherNames);
    if (number === undefined) continue;
    served = true;
    for (const { address, family: addressFamily, ready } of group.addresses) {
      if (addressFamily !== family) continue;
      if (!ready) notReady++;
      else backends.set(`${address}|${number}`, { family, address, port: number });
    }
  }
  if (backends.size > 0) return [...backends.values()];

  if (!served && typeof port.targetPort === 'string') {
    throw fieldError(
      { doc: service.doc, path: `${where.path}.targetPort` },
      `"${port.targetPort}" does not resolve: no ${sourceKind} port named "${port.name}"`,
      `a named targetPort is resolved through the ${sourceKind} port that carries the Service port's name`,
    );
  }
  if (!served) {
    throw fieldError(
      where,
      `(port ${port.port}) has no endpoints: no ${sourceKind} port is named "${port.name}" (they name ${[...otherNames].map((n) => `"${n}"`).join(', ')})`,
      `${sourceKind} ports carry the name of the Service port they serve`,
    );
  }
  const problem =
    notReady > 0
      ? `has no ready IPv${family} endpoints (${notReady} not ready)`
      : `has no IPv${family} endpoints`;
  throw fieldError(
    where,
    `(port ${port.port}) ${problem}`,
    `lbctl needs at least one ready IPv${family} backend per VIP`,
  );
}

/** The backend port number a group gives the Service port, or undefined when it does not serve it. */
function groupPort(group: EndpointGroup, port: ServicePort, otherNames: Set<string>): number | undefined {
  const numericTarget = typeof port.targetPort === 'string' ? undefined : (port.targetPort ?? port.port);
  if (group.ports.length === 0) return numericTarget;
  const match = group.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
  if (!match) {
    for (const p of group.ports) otherNames.add(p.name);
    return undefined;
  }
  return match.port ?? numericTarget;
}

function sliceGroup(slice: EndpointSliceObject): EndpointGroup[] {
  if (slice.addressType === 'FQDN') return [];
  const family = slice.addressType === 'IPv4' ? 4 : 6;
  return [
    {
      ports: slice.ports,
      addresses: slice.endpoints.map((e) => ({ address: e.address, family, ready: e.ready })),
    },
  ];
}

function subsetGroup(subset: EndpointsObject['subsets'][number]): EndpointGroup {
  return {
    ports: subset.ports,
    addresses: subset.addresses.map((address) => ({
      address,
      family: parseIpAddress(address)?.family ?? 4,
      ready: true,
    })),
  };
}
