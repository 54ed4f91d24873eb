/**
 * Kernel tier: per-port bandwidth as libvirt's <bandwidth> means it. Cross-checked with `tc -j`,
 * and a TCP stream through the shaped port, each way, stays within 10% of the rate.
 */
import { spawn } from 'child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handle } from '../src/rtnl/handle';
import { hostwire, ip, kernelTest, uniqueName, withNetns } from './helpers/kernel';
import { execFileSync, spawnSync } from 'child_process';

const t = suite('qos');

const tcJson = (ns: string, ...args: string[]) => JSON.parse(execFileSync('tc', ['-n', ns, '-j', ...args], { encoding: 'utf8' }) || '[]');

kernelTest(t, 'qos set tap0 --inbound 1000 --outbound 1000: htb and ingress on the tap, an ifb carries the outbound limit', () =>
  withNetns(async (ns) => {
    ip('-n', ns, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
    const r = hostwire(['-n', ns, 'qos', 'set', 'tap0', '--inbound', '1000', '--outbound', '1000']);
    assert.is(r.status, 0, r.stderr);
    const q = tcJson(ns, 'qdisc', 'show', 'dev', 'tap0');
    assert.ok(
      q.some((x: { kind: string; root?: boolean }) => x.kind === 'htb' && x.root),
      'htb at the root',
    );
    assert.ok(
      q.some((x: { kind: string }) => x.kind === 'ingress'),
      'an ingress qdisc',
    );
    // tc has no JSON for classes here: its text says rate 8Mbit for 1,000,000 bytes per second.
    const classes = (dev: string) => execFileSync('tc', ['-n', ns, 'class', 'show', 'dev', dev], { encoding: 'utf8' });
    assert.match(classes('tap0'), /^class htb 1:1 root .*rate 8Mbit ceil 8Mbit/m);
    const ifb = JSON.parse(execFileSync('ip', ['-n', ns, '-j', '-d', 'link', 'show', 'type', 'ifb'], { encoding: 'utf8' }));
    assert.is(ifb.length, 1);
    assert.match(classes(ifb[0].ifname), /^class htb 1:1 root .*rate 8Mbit/m, 'the ifb carries the outbound limit');
    const filters = execFileSync('tc', ['-n', ns, 'filter', 'show', 'dev', 'tap0', 'ingress'], { encoding: 'utf8' });
    assert.match(filters, new RegExp(`mirred \\(Egress Redirect to device ${ifb[0].ifname}\\)`));
    const shown = JSON.parse(hostwire(['-n', ns, '--json', 'qos', 'show', 'tap0']).stdout);
    assert.equal(shown.inbound.average, 1000);
    assert.equal(shown.outbound.average, 1000);
    // Replaced, then cleared: nothing left, the ifb gone.
    assert.is(hostwire(['-n', ns, 'qos', 'set', 'tap0', '--inbound', '2000,4000,32']).status, 0);
    assert.equal(JSON.parse(hostwire(['-n', ns, '--json', 'qos', 'show', 'tap0']).stdout), {
      inbound: { average: 2000, peak: 4000, burst: 32 },
    });
    assert.equal(JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', 'type', 'ifb'], { encoding: 'utf8' }) || '[]'), []);
    assert.is(hostwire(['-n', ns, 'qos', 'clear', 'tap0']).status, 0);
    assert.ok(!tcJson(ns, 'qdisc', 'show', 'dev', 'tap0').some((x: { kind: string }) => x.kind === 'htb' || x.kind === 'ingress'));
    // Bad input: typed, and nothing changed.
    const before = execFileSync('tc', ['-n', ns, 'qdisc', 'show'], { encoding: 'utf8' });
    for (const args of [['--inbound', '0'], ['--inbound', '100,50'], ['--outbound', 'fast'], []]) {
      const b = hostwire(['-n', ns, 'qos', 'set', 'tap0', ...args]);
      assert.ok(b.status !== 0 && /EINVALIDOPTION|EUSAGE/.test(b.stderr), `${args.join(' ')}: ${b.stderr}`);
    }
    assert.is(execFileSync('tc', ['-n', ns, 'qdisc', 'show'], { encoding: 'utf8' }), before);
  }),
);

/** Bytes per second a TCP stream from `from` to `to` (10.77.0.x:port) carries, measured for 3 s after 1 s. */
async function stream(fromNs: string, toNs: string, toAddr: string): Promise<number> {
  const port = 5201;
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      toNs,
      process.execPath,
      '-e',
      `const net=require('net');let n=0,t0=0;const s=net.createServer((c)=>{t0=Date.now();c.on('data',(d)=>{const t=Date.now()-t0;if(t>=1000&&t<4000)n+=d.length;if(t>=4000){process.stdout.write(String(n/3)+'\\n');process.exit(0);}});});s.listen(${port},'${toAddr}',()=>process.stdout.write('ready\\n'));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
  const client = spawn(
    'ip',
    [
      'netns',
      'exec',
      fromNs,
      process.execPath,
      '-e',
      `const c=require('net').connect(${port},'${toAddr}');const b=Buffer.alloc(65536);const w=()=>{while(c.write(b));};c.on('drain',w);c.on('connect',w);c.on('error',()=>process.exit(0));c.on('close',()=>process.exit(0));`,
    ],
    { stdio: 'ignore' },
  );
  try {
    await new Promise((r) => server.on('exit', r));
  } finally {
    client.kill();
    server.kill();
  }
  return Number(out.trim().split('\n').pop());
}

kernelTest(t, 'a TCP stream through a shaped port stays within 10% of the rate, each way', async () => {
  const host = uniqueName('qh');
  const vm = uniqueName('qv');
  ip('netns', 'add', host);
  ip('netns', 'add', vm);
  try {
    ip('-n', host, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'e0', 'netns', vm);
    ip('-n', host, 'addr', 'add', '10.77.0.1/24', 'dev', 'p0');
    ip('-n', vm, 'addr', 'add', '10.77.0.2/24', 'dev', 'e0');
    for (const [n, d] of [
      [host, 'p0'],
      [vm, 'e0'],
      [host, 'lo'],
      [vm, 'lo'],
    ])
      ip('-n', n, 'link', 'set', d, 'up');
    const h = new Handle({ netns: host });
    try {
      await h.setQos('p0', { inbound: { average: 1000 }, outbound: { average: 500 } });
    } finally {
      h.close();
    }
    const toVm = await stream(host, vm, '10.77.0.2');
    assert.ok(Math.abs(toVm - 1_000_000) <= 100_000, `inbound: ${toVm} bytes/s for a limit of 1,000,000`);
    const fromVm = await stream(vm, host, '10.77.0.1');
    assert.ok(Math.abs(fromVm - 500_000) <= 50_000, `outbound: ${fromVm} bytes/s for a limit of 500,000`);
  } finally {
    spawnSync('ip', ['netns', 'del', host]);
    spawnSync('ip', ['netns', 'del', vm]);
  }
});

t.run();
