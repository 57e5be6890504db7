/**
 * Address policy: which addresses are refused as VIP, backend and SNAT address, and that service
 * validation (the path `service add`, `service set` and `apply` share) applies it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AddressKind,
  addressKind,
  checkBackendAddress,
  checkSnatAddress,
  checkVipAddress,
} from '../../src/core/address-policy.js';
import type { Endpoint } from '../../src/core/endpoint.js';
import { type ServiceSpec, validateService } from '../../src/core/service-spec.js';
import { addressesOfIpAddrJson } from '../../src/core/snat.js';
import { lbctlErrorOf } from '../helpers/errors.js';

const endpoint = (address: string, port = 80): Endpoint => ({
  family: address.includes(':') ? 6 : 4,
  address,
  port,
});

describe('addressKind', () => {
  const kinds: Array<[string, AddressKind | undefined]> = [
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['ff0e::db8:1', 'multicast'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:192.0.2.1', 'v4-mapped'],
    // Ordinary unicast addresses, including the neighbours of each special range.
    ['192.0.2.10', undefined],
    ['0.0.0.1', undefined],
    ['126.255.255.255', undefined],
    ['128.0.0.1', undefined],
    ['223.255.255.255', undefined],
    ['240.0.0.1', undefined],
    ['255.255.255.254', undefined],
    ['2001:db8::1', undefined],
    ['::2', undefined],
    ['::192.0.2.1', undefined],
    ['fe80::1', undefined],
    ['feff::1', undefined],
    ['::fffe:192.0.2.1', undefined],
  ];
  for (const [address, kind] of kinds) {
    it(`${address} is ${kind ?? 'ordinary'}`, () => assert.equal(addressKind(address), kind));
  }
});

describe('VIP and backend addresses', () => {
  // [address, refused as VIP, refused as backend]
  const roles: Array<[string, boolean, boolean]> = [
    ['0.0.0.0', true, true],
    ['::', true, true],
    ['255.255.255.255', true, true],
    ['224.0.0.5', true, true],
    ['ff02::1', true, true],
    ['127.0.0.1', true, true],
    ['::1', true, true],
    ['::ffff:198.51.100.2', true, false],
    ['203.0.113.10', false, false],
    ['2001:db8:f::10', false, false],
  ];
  for (const [address, vipRefused, backendRefused] of roles) {
    it(`${address}: VIP ${vipRefused ? 'refused' : 'accepted'}, backend ${backendRefused ? 'refused' : 'accepted'}`, () => {
      const check = (fn: () => void, refused: boolean) =>
        refused ? assert.throws(fn, lbctlErrorOf('USAGE', { mentions: [address], hint: true })) : fn();
      check(() => checkVipAddress(endpoint(address)), vipRefused);
      check(() => checkBackendAddress(endpoint(address, 8080)), backendRefused);
    });
  }

  const spec = (vip: string, backend: string): ServiceSpec => ({
    name: undefined,
    vip: endpoint(vip),
    mode: 'fullnat',
    backends: [{ ...endpoint(backend), weight: 1 }],
    ppv2: { enabled: false, uniqueId: false, crc32c: false, tlvs: [] },
  });

  it('validateService refuses a VIP the policy refuses, naming it', () => {
    assert.throws(
      () => validateService(spec('0.0.0.0', '198.51.100.2')),
      lbctlErrorOf('USAGE', { mentions: ['0.0.0.0'] }),
    );
  });

  it('validateService refuses a backend the policy refuses, naming it', () => {
    assert.throws(
      () => validateService(spec('203.0.113.10', '127.0.0.1')),
      lbctlErrorOf('USAGE', { mentions: ['127.0.0.1'] }),
    );
  });

  it('validateService accepts ordinary addresses', () => {
    assert.doesNotThrow(() => validateService(spec('203.0.113.10', '198.51.100.2')));
  });
});

describe('checkSnatAddress', () => {
  const local = new Set(['198.51.100.1', '2001:db8:b::1', '127.0.0.1', '::1']);
  const vip4 = endpoint('203.0.113.10');
  const vip6 = endpoint('2001:db8:f::10');

  const accepted: Array<[string, Endpoint, string]> = [
    ['198.51.100.1', vip4, '198.51.100.1'],
    ['2001:db8:b::1', vip6, '2001:db8:b::1'],
    ['2001:DB8:B:0::1', vip6, '2001:db8:b::1'],
  ];
  for (const [given, vip, stored] of accepted) {
    it(`stores ${given} for ${vip.address} as ${stored}`, () => {
      assert.equal(checkSnatAddress(given, vip, local), stored);
    });
  }

  // [given, VIP, what the message must name]: other family, special, not local, not an address.
  const refused: Array<[string, Endpoint, string[]]> = [
    ['2001:db8:b::1', vip4, ['2001:db8:b::1', '203.0.113.10']],
    ['198.51.100.1', vip6, ['198.51.100.1', '2001:db8:f::10']],
    ['127.0.0.1', vip4, ['127.0.0.1']],
    ['::1', vip6, ['::1']],
    ['0.0.0.0', vip4, ['0.0.0.0']],
    ['224.0.0.1', vip4, ['224.0.0.1']],
    ['::ffff:198.51.100.1', vip6, ['::ffff:198.51.100.1']],
    ['198.51.100.99', vip4, ['198.51.100.99']],
    ['2001:db8:b::99', vip6, ['2001:db8:b::99']],
    ['snat.example', vip4, ['snat.example']],
  ];
  for (const [given, vip, mentions] of refused) {
    it(`refuses ${given} for ${vip.address}`, () => {
      assert.throws(
        () => checkSnatAddress(given, vip, local),
        lbctlErrorOf('USAGE', { mentions, hint: true }),
      );
    });
  }
});

describe('addressesOfIpAddrJson', () => {
  it('collects every interface address, canonical', () => {
    const json = JSON.stringify([
      {
        ifname: 'lo',
        addr_info: [
          { family: 'inet', local: '127.0.0.1' },
          { family: 'inet6', local: '::1' },
        ],
      },
      {
        ifname: 'eth0',
        addr_info: [
          { family: 'inet', local: '198.51.100.1', broadcast: '198.51.100.255' },
          { family: 'inet6', local: '2001:DB8:B:0::1' },
        ],
      },
      { ifname: 'eth1' },
    ]);
    assert.deepEqual(
      [...addressesOfIpAddrJson(json)].sort(),
      ['127.0.0.1', '198.51.100.1', '2001:db8:b::1', '::1'].sort(),
    );
  });
});
