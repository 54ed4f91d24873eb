/**
 * Address and route verbs (src/rtnl/addr.ts, route.ts) and the uplink move
 * (src/workflow/uplink.ts), with a veth pair across two throwaway namespaces: HOST has the
 * uplink `up0` with addresses and routes (default included), PEER is the LAN. The peer stays
 * reachable by ping through the move; a failure at any step leaves everything as it was.
 */
import { spawn } from 'child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HostwireError } from '../src/errors';
import { bytesToIp, ipToBytes } from '../src/rtnl/addr';
import { Handle } from '../src/rtnl/handle';
import { bridgeUplink } from '../src/workflow/uplink';
import { hostwire, ip, ipJson, kernelTest, withNetns } from './helpers/kernel';

const test = suite('uplink');

test('ip text <-> bytes', () => {
  for (const [text, hex] of [
    ['10.1.2.3', '0a010203'],
    ['::', '0'.repeat(32)],
    ['fd77::1', 'fd77' + '0'.repeat(24) + '0001'],
    ['fe80::1:2', 'fe80' + '0'.repeat(20) + '00010002'],
    ['::ffff:10.0.0.1', '0'.repeat(20) + 'ffff0a000001'],
    ['2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001'],
  ]) {
    assert.is(ipToBytes(text).toString('hex'), hex, text);
  }
  assert.is(bytesToIp(ipToBytes('fd77:0:0:0:0:0:0:1')), 'fd77::1');
  assert.is(bytesToIp(ipToBytes('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  assert.is(bytesToIp(ipToBytes('1:2:3:4:5:6:7:8')), '1:2:3:4:5:6:7:8');
});

type Setup = { host: string; peer: string };

/** HOST: up0 10.77.0.1/24 + fd77::1/64, default via 10.77.0.2, 10.99.0.0/24 via 10.77.0.2 metric 7. PEER: pe0 10.77.0.2/24, lo 10.88.0.1. */
async function withPair(fn: (s: Setup) => Promise<void>): Promise<void> {
  await withNetns(async (host) => {
    await withNetns(async (peer) => {
      ip('-n', host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'pe0', 'netns', peer);
      ip('-n', host, 'addr', 'add', '10.77.0.1/24', 'brd', '+', 'dev', 'up0');
      ip('-n', host, 'addr', 'add', 'fd77::1/64', 'dev', 'up0', 'nodad');
      ip('-n', host, 'link', 'set', 'up0', 'up');
      ip('-n', peer, 'addr', 'add', '10.77.0.2/24', 'dev', 'pe0');
      ip('-n', peer, 'addr', 'add', 'fd77::2/64', 'dev', 'pe0', 'nodad');
      ip('-n', peer, 'addr', 'add', '10.88.0.1/32', 'dev', 'lo');
      ip('-n', peer, 'link', 'set', 'pe0', 'up');
      ip('-n', host, 'route', 'add', 'default', 'via', '10.77.0.2');
      ip('-n', host, 'route', 'add', '10.99.0.0/24', 'via', '10.77.0.2', 'metric', '7');
      await fn({ host, peer });
    }, 'upp');
  }, 'uph');
}

function ping(ns: string, target: string, count = 1, interval = '0.2'): Promise<{ sent: number; received: number }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c', String(count), '-i', interval, '-W', '1', target], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => {
      const m = out.match(/(\d+) packets transmitted, (\d+) received/);
      resolve({ sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0 });
    });
  });
}

/** The state the move changes, as `ip` sees it. */
function snapshot(ns: string): unknown {
  const links = ipJson('-n', ns, 'link', 'show').map((l: any) => ({
    name: l.ifname,
    master: l.master ?? null,
    up: l.flags.includes('UP'),
  }));
  const addrs = ipJson('-n', ns, 'addr', 'show')
    .flatMap((l: any) =>
      l.addr_info.filter((a: any) => a.scope !== 'link' && a.scope !== 'host').map((a: any) => `${l.ifname} ${a.local}/${a.prefixlen}`),
    )
    .sort();
  const routes = [...ipJson('-n', ns, 'route', 'show'), ...ipJson('-n', ns, '-6', 'route', 'show')]
    .filter((r: any) => !String(r.dst).startsWith('fe80'))
    .map((r: any) => `${r.dst} ${r.gateway ?? ''} ${r.dev} ${r.metric ?? ''}`)
    .sort();
  return { links, addrs, routes };
}

kernelTest(test, 'address and route verbs agree with ip', async () => {
  await withPair(async ({ host }) => {
    const h = new Handle({ netns: host });
    try {
      const addrs = await h.listAddresses({ dev: 'up0' });
      assert.ok(addrs.some((a) => a.address === '10.77.0.1' && a.prefixlen === 24 && a.broadcast === '10.77.0.255'));
      assert.ok(addrs.some((a) => a.address === 'fd77::1' && a.prefixlen === 64));
      const routes = await h.listRoutes({ dev: 'up0', family: 4 });
      assert.ok(routes.some((r) => r.dst === 'default' && r.gateway === '10.77.0.2'));
      assert.ok(routes.some((r) => r.dst === '10.99.0.0/24' && r.priority === 7));
      await h.addAddress('up0', '10.78.0.1/16');
      await h.addRoute({ dst: '10.200.0.0/16', gateway: '10.77.0.2', priority: 9 });
      assert.ok(ipJson('-n', host, 'addr', 'show', 'up0')[0].addr_info.some((a: any) => a.local === '10.78.0.1' && a.prefixlen === 16));
      assert.ok(ipJson('-n', host, 'route', 'show', '10.200.0.0/16').some((r: any) => r.gateway === '10.77.0.2' && r.metric === 9));
      await h.deleteRoute({ dst: '10.200.0.0/16', gateway: '10.77.0.2', priority: 9 });
      await h.deleteAddress('up0', '10.78.0.1/16');
      assert.equal(ipJson('-n', host, 'route', 'show', '10.200.0.0/16'), []);
      for (const [fn, c] of [
        [() => h.addAddress('up0', '10.1.1.1/33'), 'EINVALIDADDR'],
        [() => h.addAddress('up0', 'x'), 'EINVALIDADDR'],
        [() => h.addAddress('up0', '10.77.0.1/24'), 'EEXIST'],
        [() => h.deleteAddress('up0', '10.1.1.1/24'), 'EADDRNOTAVAIL'],
        [() => h.addRoute({ dst: 'default' }), 'EINVALIDADDR'],
        [() => h.addRoute({ dst: '10.0.0.0/8', gateway: 'fd77::2' }), 'EINVALIDADDR'],
      ] as const) {
        try {
          await fn();
          assert.unreachable(c);
        } catch (e) {
          assert.is((e as { code?: string }).code, c);
        }
      }
    } finally {
      h.close();
    }
  });
});

kernelTest(test, 'bridge uplink moves addresses and routes to the new bridge; the peer stays reachable by ping', async () => {
  await withPair(async ({ host, peer }) => {
    assert.is((await ping(host, '10.88.0.1')).received, 1, 'reachable before');
    const h = new Handle({ netns: host });
    try {
      const during = ping(peer, '10.77.0.1', 40, '0.05');
      await new Promise((r) => setTimeout(r, 500));
      const r = await bridgeUplink(h, 'up0', 'br0');
      const p = await during;
      assert.is(p.sent, 40);
      assert.ok(p.received >= 36, `peer lost ${p.sent - p.received} of ${p.sent} pings during the move`);
      assert.equal(r.addresses.sort(), ['10.77.0.1/24', 'fd77::1/64']);
      assert.equal(r.routes.sort(), ['10.99.0.0/24 via 10.77.0.2 metric 7', 'default via 10.77.0.2']);
      const up0 = ipJson('-n', host, 'addr', 'show', 'up0')[0];
      assert.is(up0.master, 'br0');
      assert.not.ok(
        up0.addr_info.some((a: any) => a.scope === 'global'),
        'no addresses left on up0',
      );
      const br0 = ipJson('-n', host, '-d', 'addr', 'show', 'br0')[0];
      assert.is(br0.address, up0.address, 'the bridge has the uplink MAC');
      assert.ok(br0.addr_info.some((a: any) => a.local === '10.77.0.1' && a.broadcast === '10.77.0.255'));
      assert.ok(br0.addr_info.some((a: any) => a.local === 'fd77::1'));
      const def = ipJson('-n', host, 'route', 'show', 'default')[0];
      assert.equal([def.gateway, def.dev], ['10.77.0.2', 'br0']);
      const extra = ipJson('-n', host, 'route', 'show', '10.99.0.0/24')[0];
      assert.equal([extra.dev, extra.metric], ['br0', 7]);
      assert.is((await ping(host, '10.88.0.1')).received, 1, 'the default route works through br0');
      assert.is((await ping(peer, 'fd77::1')).received, 1, 'IPv6 too');
    } finally {
      h.close();
    }
  });
});

kernelTest(test, 'a failure at any step is rolled back: the uplink is exactly as before', async () => {
  const steps = [
    'create bridge',
    'bridge up',
    'remove routes from dev',
    'remove addresses from dev',
    'enslave dev',
    'addresses on bridge',
    'routes on bridge',
  ];
  for (const failAt of steps) {
    await withPair(async ({ host, peer }) => {
      const before = snapshot(host);
      const h = new Handle({ netns: host });
      try {
        await bridgeUplink(h, 'up0', 'br0', {
          beforeStep: (s) => {
            if (s === failAt) throw new HostwireError('EINJECTED', `failing at ${s}`);
          },
        });
        assert.unreachable('the move should have failed');
      } catch (e) {
        assert.is((e as { code?: string }).code, 'EINJECTED', `${failAt}: ${(e as Error).message}`);
      } finally {
        h.close();
      }
      assert.equal(snapshot(host), before, `state after a failure at '${failAt}'`);
      assert.is((await ping(peer, '10.77.0.1')).received, 1, `reachable after a failure at '${failAt}'`);
    });
  }
});

kernelTest(test, 'checks before anything changes, and the CLI', async () => {
  await withPair(async ({ host }) => {
    const before = snapshot(host);
    ip('-n', host, 'link', 'add', 'brx', 'type', 'bridge');
    const h = new Handle({ netns: host });
    try {
      const cases: [() => Promise<unknown>, string][] = [
        [() => bridgeUplink(h, 'up0', 'brx'), 'EEXIST'],
        [() => bridgeUplink(h, 'nope0', 'br0'), 'ENODEV'],
        [() => bridgeUplink(h, 'brx', 'br0'), 'ENOTPORT'],
        [() => bridgeUplink(h, 'up0', 'bad/name'), 'EINVALIDNAME'],
      ];
      for (const [fn, c] of cases) {
        try {
          await fn();
          assert.unreachable(c);
        } catch (e) {
          assert.is((e as { code?: string }).code, c);
        }
      }
      ip('-n', host, 'link', 'del', 'brx');
      assert.equal(snapshot(host), before);
      const r = hostwire(['-n', host, 'bridge', 'uplink', 'up0', '--bridge', 'br0']);
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stdout, /up0 is now a port of br0/);
      assert.match(r.stdout, /route default via 10.77.0.2 moved to br0/);
      const again = hostwire(['--json', '-n', host, 'bridge', 'uplink', 'up0', '--bridge', 'br1']);
      assert.is(JSON.parse(again.stderr).code, 'EALREADYPORT');
    } finally {
      h.close();
    }
  });
});

test.run();
