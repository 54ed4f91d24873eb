/** Kernel tier: `--json` names every attribute the way `ip -d -j` does; no attr_N keys. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hostwire, ip, ipJson, kernelTest, withNetns } from './helpers/kernel';

const t = suite('rtnl-json');

/** Every key of an object, recursively, as a.b.c paths. */
function keys(v: unknown, at = ''): string[] {
  if (!v || typeof v !== 'object') return [];
  if (Array.isArray(v)) return v.flatMap((x, i) => keys(x, `${at}[${i}]`));
  return Object.entries(v).flatMap(([k, x]) => [`${at}${k}`, ...keys(x, `${at}${k}.`)]);
}

kernelTest(t, 'a bridge, a veth port and a tap port: every key named, values as ip -d -j has them', () =>
  withNetns(async (ns) => {
    ip('-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '1', 'priority', '100');
    ip('-n', ns, 'link', 'add', 'v0', 'master', 'br0', 'type', 'veth', 'peer', 'name', 'p0');
    ip('-n', ns, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
    ip('-n', ns, 'link', 'set', 'tap0', 'master', 'br0');
    for (const dev of ['br0', 'v0', 'tap0']) {
      const r = hostwire(['-n', ns, '--json', 'link', 'show', dev]);
      assert.is(r.status, 0, r.stderr);
      const ours = JSON.parse(r.stdout);
      const all = keys(ours);
      assert.ok(all.length > 10, `${dev}: ${all.length} keys`);
      const unnamed = all.filter((k) => /(^|\.)(attr|ifla\w*?)_\d+$/i.test(k));
      assert.equal(unnamed, [], `${dev}: unnamed keys`);
    }
    const [brIp] = ipJson('-d', '-n', ns, 'link', 'show', 'br0');
    const [br] = JSON.parse(hostwire(['-n', ns, '--json', 'link', 'show', 'br0']).stdout);
    assert.is(br.info.stp_state, brIp.linkinfo.info_data.stp_state);
    assert.is(br.info.priority, brIp.linkinfo.info_data.priority);
    const [portIp] = ipJson('-d', '-n', ns, 'link', 'show', 'v0');
    const [port] = JSON.parse(hostwire(['-n', ns, '--json', 'link', 'show', 'v0']).stdout);
    assert.is(port.slave_kind, 'bridge');
    assert.is(port.slave_info.priority, portIp.linkinfo.info_slave_data.priority);
    assert.is(port.slave_info.cost, portIp.linkinfo.info_slave_data.cost);
  }),
);

t.run();
