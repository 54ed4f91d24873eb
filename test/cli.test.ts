/** The `hostwire` CLI's kernel verbs, run as a user would, cross-checked with iproute2. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, hostwire, ip, ipJson, kernelTest, uniqueName, withNetns } from './helpers/kernel';

const t = suite('cli');
const ok = (r: ReturnType<typeof hostwire>) => {
  assert.is(r.signal, null, 'never dies from a signal');
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
};
const jsonErr = (r: ReturnType<typeof hostwire>) => JSON.parse(r.stderr.trim().split('\n').pop() as string);

/** One temporary directory for the suite's files, removed when the suite ends (also after a failure). */
let tmpDir: string | null = null;
function tmpPath(name: string): string {
  tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'hwcli-'));
  return path.join(tmpDir, name);
}
let tmpFiles = 0;
function tmpFile(text: string): string {
  const f = tmpPath(`batch${tmpFiles++}`);
  fs.writeFileSync(f, text);
  return f;
}
t.after(() => {
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = null;
});

kernelTest(t, 'bridge add twice: EEXIST; self-enslave: the kernel message; 16 bytes: nothing made', () =>
  withNetns((ns) => {
    ok(hostwire(['-n', ns, 'bridge', 'add', 'br0', '--stp', 'on', '--mtu', '1400', '--address', '02:00:00:00:aa:01']));
    const [br] = ipJson('-n', ns, '-d', 'link', 'show', 'br0');
    assert.is(br.mtu, 1400);
    assert.is(br.address, '02:00:00:00:aa:01');
    assert.is(br.linkinfo.info_data.stp_state, 1);
    let r = hostwire(['-n', ns, 'bridge', 'add', 'br0']);
    assert.is(r.status, 1);
    assert.match(r.stderr, /^hostwire: EEXIST: /);
    r = hostwire(['-n', ns, '--json', 'bridge', 'add', 'br0']);
    assert.is(jsonErr(r).code, 'EEXIST');
    assert.is(jsonErr(r).errno, 17);
    r = hostwire(['-n', ns, 'link', 'set', 'br0', 'master', 'br0']);
    assert.is(r.status, 1);
    assert.match(r.stderr, /ELOOP: .*Can not enslave a bridge to a bridge/);
    const before = ip('-n', ns, 'link', 'show');
    r = hostwire(['-n', ns, '--json', 'bridge', 'add', 'abcdefghijklmnop']);
    assert.is(r.status, 1);
    assert.is(jsonErr(r).code, 'EINVALIDNAME');
    for (const bad of [
      ['link', 'set', 'br0', 'address', '02:00:00:00:00'],
      ['bridge', 'add', 'x/y'],
      ['link', 'set', 'br0', 'master', 'nobr'],
    ]) {
      r = hostwire(['-n', ns, '--json', ...bad]);
      assert.is(r.status, 1, bad.join(' '));
      assert.ok(['EINVALIDMAC', 'EINVALIDNAME', 'ENODEV'].includes(jsonErr(r).code), r.stderr);
    }
    assert.is(ip('-n', ns, 'link', 'show'), before, 'nothing was made or changed');
    ok(hostwire(['-n', ns, 'link', 'add', 'br1', 'type', 'bridge']));
    assert.is(ipJson('-n', ns, '-d', 'link', 'show', 'br1')[0].linkinfo.info_kind, 'bridge');
    const shown = JSON.parse(ok(hostwire(['-n', ns, '--json', 'bridge', 'show'])));
    assert.equal(shown.map((b: any) => b.name).sort(), ['br0', 'br1']);
    ok(hostwire(['-n', ns, 'bridge', 'del', 'br1']));
    assert.equal(
      ipJson('-n', ns, 'link', 'show', 'type', 'bridge').map((l: any) => l.ifname),
      ['br0'],
    );
  }),
);

kernelTest(t, '500 veth ports attached by one batch file, listed like ip lists them, detached by batch', () =>
  withNetns((ns) => {
    ok(hostwire(['-n', ns, 'bridge', 'add', 'br0']));
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) lines.push(`link add v${i} type veth peer p${i}`, `link set v${i} master br0 up`);
    ok(hostwire(['-n', ns, 'batch', tmpFile(lines.join('\n') + '\n')]));
    const ours = JSON.parse(ok(hostwire(['-n', ns, 'link', 'show', 'master', 'br0', '--json'])));
    const theirs = ipJson('-n', ns, 'link', 'show', 'master', 'br0');
    assert.is(ours.length, 500);
    assert.equal(ours.map((l: any) => l.name).sort(), theirs.map((l: any) => l.ifname).sort());
    assert.ok(
      ours.every(
        (l: any) =>
          l.master === 'br0' &&
          typeof l.index === 'number' &&
          l.kind === 'veth' &&
          l.mtu === 1500 &&
          /^[0-9a-f:]{17}$/.test(l.address) &&
          typeof l.state === 'string',
      ),
    );
    const detach = Array.from({ length: 500 }, (_, i) => `link set v${i} nomaster`).join('\n');
    ok(hostwire(['-n', ns, 'batch', '-'], detach));
    assert.equal(ipJson('-n', ns, 'link', 'show', 'master', 'br0'), []);
  }),
);

kernelTest(t, 'batch: the first failing line is reported with its number and stops it (exit 1); with --force the rest still run', () =>
  withNetns((ns) => {
    const lines = [
      'bridge add br0',
      '# a comment',
      '',
      'link set nope up',
      'link show br0',
      'tap add t0',
      'frobnicate',
      'link set t0 master br0',
    ];
    let r = hostwire(['-n', ns, 'batch', '-'], lines.join('\n'));
    assert.is(r.status, 1);
    assert.match(r.stderr, /batch line 4: ENODEV/);
    assert.not.match(r.stderr, /batch line 7/);
    assert.is(r.stdout, '', 'line 5 never ran');
    assert.equal(ipJson('-n', ns, 'link', 'show', 'type', 'tun'), [], 'nothing after line 4 ran');
    r = hostwire(['-n', ns, 'batch', '--force', '-'], lines.slice(3).join('\n'));
    assert.is(r.status, 1);
    assert.match(r.stderr, /batch line 1: ENODEV/);
    assert.match(r.stderr, /batch line 4: EUSAGE/);
    assert.match(r.stdout, /^br0\b/);
    assert.is(ipJson('-n', ns, 'link', 'show', 't0')[0].master, 'br0');
  }),
);

kernelTest(t, 'tap add: ip -d agrees on every flag, and link show decodes the same; a taken name is left alone', () =>
  withNetns((ns) => {
    ok(
      hostwire([
        '-n',
        ns,
        'tap',
        'add',
        'tap0',
        '--owner',
        '1000',
        '--group',
        '1000',
        '--multi-queue',
        '--vnet-hdr',
        '--mtu',
        '9000',
        '--address',
        '02:00:00:00:00:01',
      ]),
    );
    const [x] = ipJson('-n', ns, '-d', 'link', 'show', 'tap0');
    const [ours] = JSON.parse(ok(hostwire(['-n', ns, '--json', 'link', 'show', 'tap0'])));
    assert.is(ours.kind, x.linkinfo.info_kind);
    for (const k of ['type', 'pi', 'vnet_hdr', 'multi_queue', 'persist']) assert.is(ours.info[k], x.linkinfo.info_data[k], k);
    assert.is(ours.info.owner, 1000);
    assert.is(ours.info.group, 1000);
    assert.is(ours.mtu, x.mtu);
    assert.is(ours.address, x.address);
    const r = hostwire(['-n', ns, '--json', 'tap', 'add', 'tap0', '--mtu', '1400']);
    assert.ok(['EEXIST', 'EBUSY'].includes(jsonErr(r).code));
    assert.is(ipJson('-n', ns, 'link', 'show', 'tap0')[0].mtu, 9000);
    const batch = [...Array.from({ length: 200 }, (_, i) => `tap add bt${i}`), ...Array.from({ length: 200 }, (_, i) => `link del bt${i}`)];
    ok(hostwire(['-n', ns, 'batch', '-'], batch.join('\n')));
    assert.equal(
      ipJson('-n', ns, 'link', 'show', 'type', 'tun').map((l: any) => l.ifname),
      ['tap0'],
    );
    assert.equal(
      JSON.parse(ok(hostwire(['-n', ns, '--json', 'tap', 'show']))).map((l: any) => l.name),
      ['tap0'],
    );
    ok(hostwire(['-n', ns, 'tap', 'del', 'tap0']));
  }),
);

kernelTest(t, 'netns add / list / del through the CLI, visible to ip netns', () => {
  const ns = uniqueName('cli');
  try {
    ok(hostwire(['netns', 'add', ns]));
    assert.ok(JSON.parse(ok(hostwire(['--json', 'netns', 'list']))).some((n: any) => n.name === ns));
    assert.is(spawnSync('ip', ['netns', 'exec', ns, 'true']).status, 0);
    ok(hostwire(['-n', ns, 'link', 'add', 'a', 'type', 'veth', 'peer', 'b']));
    ok(hostwire(['-n', ns, 'link', 'set', 'b', 'netns', ns]));
    ok(hostwire(['netns', 'del', ns]));
    assert.not.ok(
      ip('netns', 'list')
        .split('\n')
        .some((l) => l.split(' ')[0] === ns),
    );
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

kernelTest(t, 'addr and route: add, show and del agree with ip; bad input refused before anything changes', () =>
  withNetns((ns) => {
    ip('-n', ns, 'link', 'add', 'r0', 'type', 'veth', 'peer', 'r1');
    ip('-n', ns, 'link', 'set', 'r0', 'up');
    ok(hostwire(['-n', ns, 'addr', 'add', '10.9.0.1/24', 'dev', 'r0', 'broadcast', '+']));
    ok(hostwire(['-n', ns, 'addr', 'add', 'fd00::1/64', 'dev', 'r0']));
    ok(hostwire(['-n', ns, 'route', 'add', 'default', 'via', '10.9.0.254', 'dev', 'r0', 'metric', '50']));
    ok(hostwire(['-n', ns, 'route', 'add', '10.77.0.0/16', 'via', '10.9.0.2']));
    const theirs = ipJson('-n', ns, 'addr', 'show', 'dev', 'r0')[0]
      .addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)
      .sort();
    const ours = JSON.parse(ok(hostwire(['-n', ns, '--json', 'addr', 'show', 'dev', 'r0'])))
      .map((a: any) => `${a.address}/${a.prefixlen}`)
      .sort();
    assert.equal(ours, theirs);
    assert.ok(ours.includes('10.9.0.1/24') && ours.includes('fd00::1/64'));
    const routes = (j: any[]) => j.map((r: any) => `${r.dst} ${r.gateway ?? '-'} ${r.dev} ${r.metric ?? r.priority ?? 0}`).sort();
    assert.equal(
      routes(JSON.parse(ok(hostwire(['-n', ns, '--json', 'route', 'show', '-4'])))),
      routes(ipJson('-n', ns, '-4', 'route', 'show')),
    );
    assert.match(ok(hostwire(['-n', ns, 'route', 'show', '-4'])), /^default via 10\.9\.0\.254 dev r0 proto boot metric 50$/m);
    ok(hostwire(['-n', ns, 'route', 'del', '10.77.0.0/16', 'via', '10.9.0.2']));
    assert.not.ok(ip('-n', ns, 'route').includes('10.77.0.0'));
    const before = ip('-n', ns, 'addr');
    for (const bad of [
      ['addr', 'add', '10.9.0.1/33', 'dev', 'r0'],
      ['addr', 'add', '10.1.0.1/24', 'dev', 'nosuch'],
      ['route', 'add', 'default', 'dev', 'r0'],
      ['addr', 'add', '10.1.0.1/24'],
    ]) {
      const r = hostwire(['-n', ns, '--json', ...bad]);
      assert.ok(r.status === 1 || r.status === 2, bad.join(' '));
      assert.ok(['EINVALIDADDR', 'ENODEV', 'EUSAGE'].includes(jsonErr(r).code), r.stderr);
    }
    assert.is(ip('-n', ns, 'addr'), before);
    ok(hostwire(['-n', ns, 'addr', 'del', '10.9.0.1/24', 'dev', 'r0']));
    assert.not.ok(ip('-n', ns, 'addr', 'show', 'dev', 'r0').includes('10.9.0.1'));
  }),
);

kernelTest(t, 'no verb spawns a process (strace -f -e execve)', () =>
  withNetns((ns) => {
    const trace = tmpPath('strace.out');
    const batch = tmpFile(
      'bridge add br0\ntap add t0\nlink set t0 master br0 up\nlink add v0 type veth peer v1\nlink del v0\nnetns list\n',
    );
    const runs = [
      ['link', 'show'],
      ['batch', batch],
      ['bridge', 'show'],
      ['tap', 'del', 't0'],
      ['link', 'set', 'br0', 'mtu', '1400'],
    ];
    for (const args of runs) {
      const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, process.execPath, CLI, '-n', ns, ...args], {
        encoding: 'utf8',
      });
      assert.is(r.status, 0, r.stderr);
      const execs = fs
        .readFileSync(trace, 'utf8')
        .split('\n')
        .filter((l) => /execve\(/.test(l));
      assert.is(execs.length, 1, `${args.join(' ')}: ${execs.join('\n')}`);
    }
  }),
);

kernelTest(t, 'without the capabilities of root: EPERM with its code, no crash', () =>
  withNetns((ns) => {
    const nocaps = { prefix: ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--'] };
    for (const args of [
      ['bridge', 'add', 'brx'],
      ['tap', 'add', 'tx0'],
      ['netns', 'add', uniqueName('np')],
    ]) {
      const r = hostwire(['--json', ...args], undefined, nocaps);
      assert.is(r.signal, null);
      assert.is(r.status, 1, r.stderr);
      assert.is(jsonErr(r).code, 'EPERM', r.stderr);
    }
    const r = hostwire(['-n', ns, '--json', 'link', 'show'], undefined, nocaps);
    assert.is(jsonErr(r).code, 'EPERM', r.stderr);
  }),
);

t.run();
