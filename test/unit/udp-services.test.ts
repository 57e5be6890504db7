/**
 * UDP services in the control plane (issue 14): the protocol is part of a service's identity (VIP:PORT/udp,
 * the lb_services key's proto byte), a TCP and a UDP service can share VIP:PORT, references name one of them,
 * liveness (a TCP probe) is refused for UDP, and a change keeps the protocol.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROTO } from '../../src/bpf/abi.js';
import { decodeServiceKey } from '../../src/bpf/records.js';
import { parseEndpoint } from '../../src/core/endpoint.js';
import { parseBackend, type ServiceSpec, validateService } from '../../src/core/service-spec.js';
import { ppv2Summary } from '../../src/core/service-summary.js';
import {
  addService,
  deleteService,
  findService,
  listServices,
  updateService,
} from '../../src/core/services.js';
import type { InstanceState } from '../../src/core/state-file.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { memoryMaps } from '../helpers/memory-maps.js';

const spec = (protocol: 'tcp' | 'udp' | undefined, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name: undefined,
  vip: parseEndpoint('203.0.113.10:53'),
  protocol,
  mode: 'fullnat',
  backends: [parseBackend('198.51.100.2:53')],
  ppv2: { enabled: true, uniqueId: true, crc32c: true, tlvs: [] },
  ...extra,
});

/** One --snat address for every backend, as the control plane resolves it. */
const SNAT = { override: '198.51.100.1', sources: new Map<string, string>() };

describe('UDP services', () => {
  it('stores the protocol in the service key and shows VIP:PORT/udp', () => {
    const { maps, map } = memoryMaps();
    const st: InstanceState = { version: 1, interfaces: {}, serviceNames: {} };
    const udp = addService(maps, st, spec('udp', { name: 'dns' }), SNAT);
    assert.equal(udp.key, '203.0.113.10:53/udp');
    assert.equal(udp.protocol, 'udp');
    const [key] = [...map('services').entries()].map(([k]) => k);
    assert.ok(key);
    assert.equal(key[18], PROTO.values.UDP, 'lb_svc_key.proto');
    assert.equal(decodeServiceKey(key).protocol, 'udp');
    assert.equal(ppv2Summary(udp), 'v2 unique-id crc32c (54 B, every datagram)');
  });

  it('lets TCP and UDP share VIP:PORT; a bare VIP:PORT reference is then ambiguous', () => {
    const { maps } = memoryMaps();
    const st: InstanceState = { version: 1, interfaces: {}, serviceNames: {} };
    addService(maps, st, spec('udp'), SNAT);
    assert.equal(findService(maps, st, '203.0.113.10:53').protocol, 'udp', 'the only one: no suffix needed');
    addService(maps, st, spec(undefined), SNAT);
    assert.deepEqual(
      listServices(maps, st).map((s) => s.key),
      ['203.0.113.10:53/udp', '203.0.113.10:53/tcp'],
    );
    assert.equal(findService(maps, st, '203.0.113.10:53/UDP').protocol, 'udp');
    assert.equal(findService(maps, st, '203.0.113.10:53/tcp').protocol, 'tcp');
    assert.throws(
      () => findService(maps, st, '203.0.113.10:53'),
      lbctlErrorOf('USAGE', { mentions: ['/udp', '/tcp'] }),
    );
    assert.throws(
      () => addService(maps, st, spec('udp'), SNAT),
      lbctlErrorOf('CONFLICT', { mentions: ['203.0.113.10:53/udp'] }),
    );
  });

  it('keeps the protocol through a change, and deletes only its own key', () => {
    const { maps } = memoryMaps();
    const st: InstanceState = { version: 1, interfaces: {}, serviceNames: {} };
    const udp = addService(maps, st, spec('udp'), SNAT);
    addService(maps, st, spec('tcp'), SNAT);
    const changed = updateService(maps, st, udp, { mode: 'dnat' });
    assert.equal(changed.key, '203.0.113.10:53/udp');
    assert.equal(changed.mode, 'dnat');
    deleteService(maps, st, changed);
    assert.deepEqual(
      listServices(maps, st).map((s) => s.key),
      ['203.0.113.10:53/tcp'],
    );
  });

  it('refuses liveness for a UDP service (the probe is a TCP handshake)', () => {
    assert.throws(
      () => validateService(spec('udp', { liveness: true })),
      lbctlErrorOf('USAGE', { mentions: ['udp'] }),
    );
    assert.doesNotThrow(() => validateService(spec('tcp', { liveness: true })));
  });
});
