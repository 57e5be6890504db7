import { canonicalIpAddress, parseIpAddress } from '../ppv2/ip-address.js';
import type { ManifestObject } from './documents.js';
import {
  child,
  type Field,
  fieldError,
  listAt,
  objectAt,
  optionalBoolean,
  optionalPort,
  optionalString,
  requiredPort,
  requiredString,
  rootField,
  stringMap,
} from './fields.js';

/**
 * Minimal typed models of the three Kubernetes kinds `lbctl apply` reads, holding only the fields it uses,
 * checked for type and range as they are read. Whether a Service is meant for lbctl, and how it matches
 * its endpoints, is decided later on these models.
 */
export interface ServicePort {
  /** Its index in spec.ports, for field paths in errors. */
  index: number;
  /** "" when unnamed (allowed for a Service's single port). */
  name: string;
  port: number;
  protocol: string;
  /** A number, a container port name, or absent (Kubernetes then uses `port`). */
  targetPort: number | string | undefined;
}

export interface ServiceObject {
  doc: string;
  namespace: string;
  name: string;
  annotations: Map<string, string>;
  type: string;
  loadBalancerClass: string | undefined;
  loadBalancerIP: string | undefined;
  /** status.loadBalancer.ingress[].ip entries (hostname-only entries are left out). */
  ingressIps: Array<{ index: number; ip: string }>;
  ports: ServicePort[];
}

export interface EndpointPort {
  /** "" when unnamed: it then belongs to the Service's unnamed port. */
  name: string;
  /** undefined: "all ports" in EndpointSlice terms. */
  port: number | undefined;
  protocol: string;
}

export interface EndpointSliceObject {
  doc: string;
  namespace: string;
  name: string;
  /** The `kubernetes.io/service-name` label. */
  serviceName: string | undefined;
  addressType: string;
  ports: EndpointPort[];
  /** The first address of each endpoint (Kubernetes: the addresses of one endpoint are fungible). */
  endpoints: Array<{ address: string; ready: boolean }>;
}

export interface EndpointsObject {
  doc: string;
  namespace: string;
  name: string;
  /** Ready addresses only (`notReadyAddresses` are not backends). */
  subsets: Array<{ addresses: string[]; ports: EndpointPort[] }>;
}

export interface IgnoredObject {
  doc: string;
  kind: string;
  namespace: string;
  name: string;
  reason: string;
}

export interface ManifestContents {
  services: ServiceObject[];
  slices: EndpointSliceObject[];
  endpoints: EndpointsObject[];
  ignored: IgnoredObject[];
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** kubectl's default when a manifest names no namespace. */
export const DEFAULT_NAMESPACE = 'default';

const API_VERSIONS: Record<string, string> = {
  Service: 'v1',
  Endpoints: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

interface Meta {
  root: Field;
  kind: string;
  namespace: string;
  name: string;
  labels: Map<string, string>;
  annotations: Map<string, string>;
}

export function readObjects(objects: readonly ManifestObject[]): ManifestContents {
  const contents: ManifestContents = { services: [], slices: [], endpoints: [], ignored: [] };
  for (const object of objects) {
    const meta = readMeta(object);
    if (meta.kind === 'Service') contents.services.push(readService(meta));
    else if (meta.kind === 'EndpointSlice') contents.slices.push(readSlice(meta));
    else if (meta.kind === 'Endpoints') contents.endpoints.push(readEndpoints(meta));
    else {
      contents.ignored.push({
        doc: meta.root.doc,
        kind: meta.kind,
        namespace: meta.namespace,
        name: meta.name,
        reason: `kind ${meta.kind} is not read by lbctl apply (it reads Service, EndpointSlice and Endpoints)`,
      });
    }
  }
  return contents;
}

function readMeta(object: ManifestObject): Meta {
  const bare = rootField(object.position, object.value);
  const kind = requiredString(child(bare, 'kind'));
  const metadata = objectAt(child(bare, 'metadata'));
  const name = optionalString(child(metadata, 'name')) ?? '';
  const namespace = optionalString(child(metadata, 'namespace')) || DEFAULT_NAMESPACE;
  const root = rootField(`${object.position} (${kind}${name ? ` ${namespace}/${name}` : ''})`, object.value);
  const apiVersion = requiredString(child(root, 'apiVersion'));
  const expected = API_VERSIONS[kind];
  if (expected !== undefined && apiVersion !== expected) {
    throw fieldError(
      child(root, 'apiVersion'),
      `"${apiVersion}" is not supported for ${kind}`,
      `use apiVersion: ${expected}`,
    );
  }
  if (expected !== undefined && name === '') throw fieldError(child(root, 'metadata'), 'has no name');
  const meta = child(root, 'metadata');
  return {
    root,
    kind,
    namespace,
    name,
    labels: stringMap(child(meta, 'labels')),
    annotations: stringMap(child(meta, 'annotations')),
  };
}

function readService(meta: Meta): ServiceObject {
  const spec = objectAt(child(meta.root, 'spec'));
  const ingress = listAt(
    child(objectAt(child(objectAt(child(meta.root, 'status')), 'loadBalancer')), 'ingress'),
  );
  const ingressIps: ServiceObject['ingressIps'] = [];
  ingress.forEach((entry, index) => {
    const ip = optionalString(child(objectAt(entry), 'ip'));
    if (ip) ingressIps.push({ index, ip });
  });
  return {
    doc: meta.root.doc,
    namespace: meta.namespace,
    name: meta.name,
    annotations: meta.annotations,
    type: optionalString(child(spec, 'type')) ?? 'ClusterIP',
    loadBalancerClass: optionalString(child(spec, 'loadBalancerClass')),
    loadBalancerIP: optionalString(child(spec, 'loadBalancerIP')) || undefined,
    ingressIps,
    ports: listAt(child(spec, 'ports')).map((port, index) => readServicePort(objectAt(port), index)),
  };
}

function readServicePort(port: Field, index: number): ServicePort {
  const target = child(port, 'targetPort');
  let targetPort: number | string | undefined;
  if (typeof target.value === 'string' && !/^[0-9]+$/.test(target.value)) targetPort = target.value;
  else if (typeof target.value === 'string')
    targetPort = requiredPort({ ...target, value: Number(target.value) });
  else targetPort = optionalPort(target);
  return {
    index,
    name: optionalString(child(port, 'name')) ?? '',
    port: requiredPort(child(port, 'port')),
    protocol: optionalString(child(port, 'protocol')) ?? 'TCP',
    targetPort,
  };
}

function readEndpointPort(port: Field): EndpointPort {
  return {
    name: optionalString(child(port, 'name')) ?? '',
    port: optionalPort(child(port, 'port')),
    protocol: optionalString(child(port, 'protocol')) ?? 'TCP',
  };
}

function readSlice(meta: Meta): EndpointSliceObject {
  const addressTypeField = child(meta.root, 'addressType');
  const addressType = requiredString(addressTypeField);
  if (!['IPv4', 'IPv6', 'FQDN'].includes(addressType)) {
    throw fieldError(addressTypeField, `"${addressType}" is not IPv4, IPv6 or FQDN`);
  }
  const endpoints = listAt(child(meta.root, 'endpoints')).map((entry) => {
    const endpoint = objectAt(entry);
    const addressesField = child(endpoint, 'addresses');
    const first = listAt(addressesField)[0];
    if (!first) throw fieldError(addressesField, 'is empty', 'an endpoint has at least one address');
    const text = requiredString(first);
    const ready = optionalBoolean(child(objectAt(child(endpoint, 'conditions')), 'ready'));
    const address = addressType === 'FQDN' ? text : sliceAddress(first, text, addressType);
    // Kubernetes: a missing `ready` condition means ready.
    return { address, ready: ready !== false };
  });
  return {
    doc: meta.root.doc,
    namespace: meta.namespace,
    name: meta.name,
    serviceName: meta.labels.get(SERVICE_NAME_LABEL),
    addressType,
    ports: listAt(child(meta.root, 'ports')).map((port) => readEndpointPort(objectAt(port))),
    endpoints,
  };
}

function sliceAddress(field: Field, text: string, addressType: string): string {
  const family = addressType === 'IPv4' ? 4 : 6;
  if (parseIpAddress(text)?.family !== family) {
    throw fieldError(field, `"${text}" is not an ${addressType} address (the slice's addressType)`);
  }
  return canonicalIpAddress(text) as string;
}

function readEndpoints(meta: Meta): EndpointsObject {
  const subsets = listAt(child(meta.root, 'subsets')).map((entry) => {
    const subset = objectAt(entry);
    const addresses = listAt(child(subset, 'addresses')).map((address) => {
      const ipField = child(objectAt(address), 'ip');
      const ip = requiredString(ipField);
      const canonical = canonicalIpAddress(ip);
      if (canonical === undefined) throw fieldError(ipField, `"${ip}" is not an IP address`);
      return canonical;
    });
    return {
      addresses,
      ports: listAt(child(subset, 'ports')).map((port) => readEndpointPort(objectAt(port))),
    };
  });
  return { doc: meta.root.doc, namespace: meta.namespace, name: meta.name, subsets };
}
