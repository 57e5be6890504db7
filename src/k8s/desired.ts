import { checkSnatFamily } from '../core/address-policy.js';
import type { Endpoint } from '../core/endpoint.js';
import { type BackendSpec, type ServiceSpec, validateService } from '../core/service-spec.js';
import { LbctlError } from '../errors.js';
import { type AddressesByFamily, ANNOTATIONS, readServiceSettings, type WeightRule } from './annotations.js';
import { backendsFor, indexEndpoints } from './backends.js';
import { childPath, type Field, fieldError } from './fields.js';
import { lbctlServiceName } from './naming.js';
import type { IgnoredObject, ManifestContents, ServiceObject } from './objects.js';
import { resolveVips, type Vip } from './vip.js';

/**
 * Manifest objects to lbctl services: one per (Service port, VIP family) of every Service meant for lbctl.
 * A Service is meant for lbctl when it is of type LoadBalancer and its loadBalancerClass is absent, loxilb's
 * or lbctl's own; the others are ignored with a reason. Any error names the document and field.
 */
export interface ManifestService {
  spec: ServiceSpec;
  /** lbctl.io/snat for this VIP's family, when given; otherwise fullnat uses the route's source. */
  snat: string | undefined;
  /** "document 1 (Service default/web) spec.ports[0]". */
  source: string;
  /** "Service default/web": ownership is recorded under it. */
  owner: string;
}

export interface ManifestReading {
  services: ManifestService[];
  ignored: IgnoredObject[];
  notes: string[];
}

export const LOXILB_CLASS = 'loxilb.io/loxilb';
export const LBCTL_CLASS = 'lbctl.io/lbctl';
const ACCEPTED_CLASSES = new Set([LOXILB_CLASS, LBCTL_CLASS]);

export function servicesFromManifests(contents: ManifestContents): ManifestReading {
  const index = indexEndpoints(contents);
  const reading: ManifestReading = { services: [], ignored: [...contents.ignored], notes: [] };
  for (const service of contents.services) {
    const reason = notForLbctl(service);
    if (reason) {
      reading.ignored.push({
        doc: service.doc,
        kind: 'Service',
        namespace: service.namespace,
        name: service.name,
        reason,
      });
      continue;
    }
    const settings = readServiceSettings(service);
    reading.notes.push(...settings.notes);
    if (service.ports.length === 0) throw fieldError({ doc: service.doc, path: 'spec.ports' }, 'is empty');
    for (const port of service.ports) {
      if (port.protocol !== 'TCP' && port.protocol !== 'UDP') {
        throw fieldError(
          { doc: service.doc, path: `spec.ports[${port.index}].protocol` },
          `"${port.protocol}" is not supported: lbctl balances TCP and UDP`,
          'leave SCTP ports to another load balancer',
          'UNSUPPORTED',
        );
      }
      if (port.protocol === 'UDP' && settings.liveness) {
        reading.notes.push(
          `${service.doc} spec.ports[${port.index}]: UDP port without liveness (the agent's probe is a TCP handshake)`,
        );
      }
    }
    const vips = resolveVips(service, settings.vips);
    refuseUnusedSnat(service, settings.snat, vips);
    for (const vip of vips) {
      for (const port of service.ports) {
        const where = { doc: service.doc, path: `spec.ports[${port.index}]` };
        const backends = backendsFor(service, port, vip.family, index).map((b) =>
          weighted(b, settings.weights),
        );
        const name =
          settings.name === ''
            ? undefined
            : lbctlServiceName({
                namespace: service.namespace,
                name: service.name,
                override: settings.name,
                port,
                multiPort: service.ports.length > 1,
                family: vip.family,
                dualStack: vips.length > 1,
              });
        const protocol = port.protocol === 'UDP' ? 'udp' : 'tcp';
        const spec: ServiceSpec = {
          name,
          vip: { family: vip.family, address: vip.address, port: port.port },
          protocol,
          mode: settings.mode,
          backends,
          ppv2: settings.ppv2,
          liveness: settings.liveness && protocol === 'tcp',
        };
        atField(where, () => validateService(spec));
        reading.services.push({
          spec,
          snat: settings.mode === 'fullnat' ? settings.snat.get(vip.family) : undefined,
          source: `${service.doc} ${where.path}${vips.length > 1 ? ` IPv${vip.family}` : ''}`,
          owner: `Service ${service.namespace}/${service.name}`,
        });
      }
    }
  }
  return reading;
}

/** Why a Service is not lbctl's to serve, or undefined when it is. */
function notForLbctl(service: ServiceObject): string | undefined {
  if (service.type !== 'LoadBalancer') return `type ${service.type}, not LoadBalancer`;
  const cls = service.loadBalancerClass;
  if (cls !== undefined && !ACCEPTED_CLASSES.has(cls)) {
    return `loadBalancerClass ${cls} belongs to another implementation (lbctl serves none, ${LOXILB_CLASS} and ${LBCTL_CLASS})`;
  }
  return undefined;
}

/**
 * An lbctl.io/snat address of a family the Service has no VIP of would be silently unused: refused the way
 * `--snat` of the other family is (address-policy.ts), naming the field.
 */
function refuseUnusedSnat(service: ServiceObject, snat: AddressesByFamily, vips: readonly Vip[]): void {
  const vip = vips[0];
  for (const [family, address] of snat) {
    if (vip === undefined || vips.some((v) => v.family === family)) continue;
    const field = { doc: service.doc, path: childPath('metadata.annotations', ANNOTATIONS.snat) };
    atField(field, () => checkSnatFamily(address, vip.family, vip.address));
  }
}

/**
 * A check shared with `service add`, its error placed at `where` in the manifest. The kind stays, so a value
 * `service add` refuses with exit 2 is refused here with exit 2 too.
 */
function atField(where: Pick<Field, 'doc' | 'path'>, check: () => unknown): void {
  try {
    check();
  } catch (err) {
    if (err instanceof LbctlError) throw fieldError(where, err.message, err.hint, err.kind);
    throw err;
  }
}

/** An endpoint rule (ADDR:PORT=W) wins over an address rule (ADDR=W); the default weight is 1. */
function weighted(backend: Endpoint, rules: readonly WeightRule[]): BackendSpec {
  const exact = rules.find((r) => r.address === backend.address && r.port === backend.port);
  const byAddress = rules.find((r) => r.address === backend.address && r.port === undefined);
  return { ...backend, weight: (exact ?? byAddress)?.weight ?? 1 };
}
