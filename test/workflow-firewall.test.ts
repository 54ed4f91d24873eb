/**
 * br_netfilter switches (src/workflow/firewall.ts) in throwaway namespaces only: values are
 * per namespace, set here and checked with `ip netns exec NS sysctl`, while the root
 * namespace's values are verified unchanged. ENOBRNETFILTER when the directory is absent.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getBridgeFirewall, openInNetns, setBridgeFirewall } from '../src/workflow/firewall';
import { hostwire, kernelTest, withNetns } from './helpers/kernel';

const test = suite('firewall');
const KEYS = ['iptables', 'ip6tables', 'arptables'] as const;

const nsSysctl = (ns: string, key: string): string =>
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', `net.bridge.bridge-nf-call-${key}`], { encoding: 'utf8' }).trim();
const rootValues = (): string[] => KEYS.map((k) => fs.readFileSync(`/proc/sys/net/bridge/bridge-nf-call-${k}`, 'utf8').trim());

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

kernelTest(test, 'show and set in a namespace, checked with ip netns exec sysctl; the root namespace untouched', async () => {
  const root = rootValues();
  await withNetns(async (ns) => {
    const start = getBridgeFirewall({ netns: ns });
    for (const k of KEYS) assert.is(start[k], nsSysctl(ns, k) === '1', k);
    const flipped = setBridgeFirewall({ iptables: !start.iptables, arptables: !start.arptables }, { netns: ns });
    assert.equal(flipped, { iptables: !start.iptables, ip6tables: start.ip6tables, arptables: !start.arptables });
    assert.is(nsSysctl(ns, 'iptables'), start.iptables ? '0' : '1');
    assert.is(nsSysctl(ns, 'arptables'), start.arptables ? '0' : '1');
    assert.is(nsSysctl(ns, 'ip6tables'), start.ip6tables ? '1' : '0');
    assert.equal(rootValues(), root, 'root namespace values unchanged');

    const off = hostwire(['-n', ns, 'firewall', 'set', '--iptables', 'off', '--ip6tables', 'off', '--arptables', 'off']);
    assert.is(off.status, 0, off.stderr);
    assert.is(
      off.stdout,
      'net.bridge.bridge-nf-call-iptables = 0\nnet.bridge.bridge-nf-call-ip6tables = 0\nnet.bridge.bridge-nf-call-arptables = 0\n',
    );
    for (const k of KEYS) assert.is(nsSysctl(ns, k), '0');
    const show = hostwire(['--json', '-n', ns, 'firewall', 'show']);
    assert.equal(JSON.parse(show.stdout), { iptables: false, ip6tables: false, arptables: false });
    const on = hostwire(['-n', ns, 'firewall', 'set', '--ip6tables', 'on']);
    assert.is(on.status, 0, on.stderr);
    assert.is(nsSysctl(ns, 'ip6tables'), '1');
    assert.equal(rootValues(), root, 'root namespace values unchanged');
  }, 'fw');
});

kernelTest(test, 'typed errors: br_netfilter missing, bad arguments, unknown namespace', () => {
  assert.is(
    code(() => getBridgeFirewall({ dir: '/proc/sys/net/nonexistent-bridge' })),
    'ENOBRNETFILTER',
  );
  assert.is(
    code(() => setBridgeFirewall({ iptables: 'yes' as unknown as boolean })),
    'EINVALIDARG',
  );
  assert.is(
    code(() => setBridgeFirewall({ bogus: true } as never)),
    'EINVALIDARG',
  );
  assert.is(
    code(() => getBridgeFirewall({ netns: 'hw-no-such-ns' })),
    'ENOENT',
  );
  assert.is(
    code(() => getBridgeFirewall({ netns: '../x' })),
    'EINVALIDNETNS',
  );
  assert.is(
    code(() => openInNetns('hw-no-such-ns', '/proc/sys/net/bridge/bridge-nf-call-iptables', 0)),
    'ENOENT',
  );
  const u = hostwire(['--json', 'firewall', 'set', '--iptables', 'maybe']);
  assert.is(JSON.parse(u.stderr).code, 'EUSAGE');
  const none = hostwire(['firewall', 'set']);
  assert.is(none.status, 2);
});

test.run();
