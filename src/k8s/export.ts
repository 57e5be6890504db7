import { formatEndpoint } from '../core/endpoint.js';
import type { ServiceView } from '../core/services.js';
import { TlvType } from '../ppv2/constants.js';
import type { TlvDescription } from '../ppv2/describe.js';
import { yamlText } from '../yaml.js';
import { ANNOTATIONS } from './annotations.js';
import { LOXILB_CLASS } from './desired.js';
import { SERVICE_NAME_LABEL } from './objects.js';

/**
 * Live services as manifests `lbctl apply -f` reads back to the same services: per lbctl service one
 * Service (type LoadBalancer, class loxilb.io/loxilb, the settings as annotations, the VIP in lbctl.io/vip)
 * and one EndpointSlice per backend port (usually one). The Service is named after the lbctl service when
 * that name is a valid Kubernetes Service name; otherwise after its VIP and port, with lbctl.io/name keeping
 * the lbctl name ("" for an unnamed service). No namespace is written, so apply reads them in "default"
 * and derives exactly the lbctl name back.
 */
export type ManifestFormat = 'yaml' | 'json';

type K8sObject = Record<string, unknown>;

export interface ExportList {
  apiVersion: 'v1';
  kind: 'List';
  items: K8sObject[];
}

/** Kubernetes Service names are DNS-1035 labels: they start with a letter. */
const SERVICE_NAME_RULE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
const MANAGED_BY = 'lbctl.io';

export function exportServices(services: readonly ServiceView[]): ExportList {
  const taken = new Set(services.flatMap((s) => (s.name && SERVICE_NAME_RULE.test(s.name) ? [s.name] : [])));
  const items = services.flatMap((service) => {
    let objectName = service.name ?? '';
    if (!SERVICE_NAME_RULE.test(objectName)) {
      objectName = uniqueName(`lbctl-${service.vip.replace(/[.:]/g, '-')}-${service.port}`, taken);
    }
    return [serviceObject(service, objectName), ...sliceObjects(service, objectName)];
  });
  return { apiVersion: 'v1', kind: 'List', items };
}

/** YAML: one document per object (strings YAML 1.1 would read as booleans are quoted, for kubectl). */
export function formatManifests(list: ExportList, format: ManifestFormat): string {
  if (format === 'json') return `${JSON.stringify(list, null, 2)}\n`;
  return list.items.map((item) => yamlText(item)).join('---\n');
}

function serviceObject(service: ServiceView, objectName: string): K8sObject {
  const annotations: Record<string, string> = {
    [ANNOTATIONS.lbMode]: service.mode === 'fullnat' ? 'fullnat' : 'default',
    [ANNOTATIONS.proxyProtocol]: service.ppv2.enabled ? 'yes' : 'no',
    [ANNOTATIONS.liveness]: service.liveness ? 'yes' : 'no',
    [ANNOTATIONS.vip]: service.vip,
  };
  // v1 is lbctl's own: loxilb.io/useproxyprotov2 stays "no", which is true of it.
  if (service.ppv2.enabled && service.ppv2.version === 1) {
    annotations[ANNOTATIONS.proxyProtocol] = 'no';
    annotations[ANNOTATIONS.proxyVersion] = 'v1';
  }
  if (service.mode === 'fullnat' && service.snat) annotations[ANNOTATIONS.snat] = service.snat;
  const tlvs = [
    service.ppv2.uniqueId ? 'unique-id' : undefined,
    service.ppv2.crc32c ? 'crc32c' : undefined,
    ...service.ppv2.tlvs.map(tlvSpec),
  ].filter((t): t is string => t !== undefined);
  if (service.ppv2.enabled && tlvs.length > 0) annotations[ANNOTATIONS.ppv2Tlvs] = tlvs.join(',');
  const weights = service.backends
    .filter((b) => b.weight !== 1)
    .map(
      (b) => `${formatEndpoint({ family: service.family, address: b.address, port: b.port })}=${b.weight}`,
    );
  if (weights.length > 0) annotations[ANNOTATIONS.weights] = weights.join(',');
  if ((service.name ?? '') !== objectName) annotations[ANNOTATIONS.name] = service.name ?? '';

  const ports = new Set(service.backends.map((b) => b.port));
  const [onlyPort] = ports;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: objectName, annotations },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: LOXILB_CLASS,
      // With several backend ports the slices carry each number, and targetPort is not consulted.
      ports: [
        {
          port: service.port,
          protocol: k8sProtocol(service),
          ...(ports.size === 1 ? { targetPort: onlyPort } : {}),
        },
      ],
    },
  };
}

/** Kubernetes spells the protocol in capitals. */
const k8sProtocol = (service: ServiceView) => (service.protocol === 'udp' ? 'UDP' : 'TCP');

function sliceObjects(service: ServiceView, objectName: string): K8sObject[] {
  const byPort = new Map<number, string[]>();
  for (const b of service.backends) byPort.set(b.port, [...(byPort.get(b.port) ?? []), b.address]);
  return [...byPort].map(([port, addresses]) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: byPort.size === 1 ? objectName : `${objectName}-${port}`,
      labels: { [SERVICE_NAME_LABEL]: objectName, [MANAGED_BY_LABEL]: MANAGED_BY },
    },
    addressType: service.family === 4 ? 'IPv4' : 'IPv6',
    ports: [{ name: '', port, protocol: k8sProtocol(service) }],
    endpoints: addresses.map((address) => ({ addresses: [address], conditions: { ready: true } })),
  }));
}

/** alpn=, authority=, netns= when the text is exact and list-safe; otherwise the type and hex value. */
function tlvSpec(tlv: TlvDescription): string {
  const keyword = { [TlvType.ALPN]: 'alpn', [TlvType.AUTHORITY]: 'authority', [TlvType.NETNS]: 'netns' }[
    tlv.type
  ];
  const exact = Buffer.from(tlv.text, 'utf8').toString('hex') === tlv.hex.toLowerCase();
  if (keyword && exact && tlv.text !== '' && !/[,\s]/.test(tlv.text)) return `${keyword}=${tlv.text}`;
  return `0x${tlv.type.toString(16).padStart(2, '0')}=${tlv.hex.toLowerCase()}`;
}

function uniqueName(wanted: string, taken: Set<string>): string {
  let name = wanted;
  for (let n = 2; taken.has(name); n++) name = `${wanted}-${n}`;
  taken.add(name);
  return name;
}
