/**
 * Kernel tier, the faults that hit a host: a namespace's name deleted under a live Handle, a
 * running batch and a watcher (they go on in the namespace they hold; a new Handle by that name
 * gets ENOENT; the namespace dies with its last user), the same under the CLI's batch, and
 * /dev/net/tun missing. Nothing crashes or hangs; every failure is a typed error.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { Watcher, type WatchEvent } from '../src/rtnl/watch';
import { CLI, ip, ipJson, kernelTest, uniqueName } from './helpers/kernel';

const t = suite('faults');

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

kernelTest(
  t,
  "a namespace's name deleted under a Handle, a running batch and a watcher: they go on; the namespace dies with its last user",
  async () => {
    const ns = uniqueName('fd');
    const witness = uniqueName('fw');
    ip('netns', 'add', ns);
    ip('netns', 'add', witness);
    const handles: Handle[] = [];
    let w: Watcher | undefined;
    try {
      // A veth with one end in the witness namespace: it disappears when `ns` is destroyed.
      ip('-n', ns, 'link', 'add', 'wa', 'type', 'veth', 'peer', 'name', 'wb', 'netns', witness);
      const h = new Handle({ netns: ns });
      handles.push(h);
      w = await Watcher.open({ netns: ns, objects: ['link'] });
      const events: WatchEvent[] = [];
      w.on('event', (e) => events.push(e));
      const ops: BatchOp[] = [];
      for (let i = 0; i < 200; i++) ops.push({ op: 'createBridge', name: `fb${i}` });
      const running = runBatch(h, ops);
      ip('netns', 'del', ns); // the name goes while the batch runs
      const r = await running;
      assert.is(r.failed, 0, 'the batch went on in the namespace it holds');
      await h.setLink('fb0', { up: true });
      await until('the watcher saw the batch', () => events.filter((e) => e.event === 'add').length >= 200);
      // A new handle by the deleted name: ENOENT, typed.
      const e = (() => {
        try {
          handles.push(new Handle({ netns: ns }));
          return undefined;
        } catch (x) {
          return x as { code?: string };
        }
      })();
      assert.is(e?.code, 'ENOENT');
      assert.ok(
        ipJson('-n', witness, 'link', 'show').some((l: { ifname: string }) => l.ifname === 'wb'),
        'alive while held',
      );
      w.close();
      for (const x of handles) x.close();
      // The last user gone: the namespace and its devices are destroyed (wb goes with its peer).
      await until(
        'the namespace to die',
        () => !ipJson('-n', witness, 'link', 'show').some((l: { ifname: string }) => l.ifname === 'wb'),
        30_000,
      );
    } finally {
      w?.close();
      for (const x of handles) x.close();
      spawnSync('ip', ['netns', 'del', ns]);
      spawnSync('ip', ['netns', 'del', witness]);
    }
  },
);

kernelTest(
  t,
  'the name deleted while `hostwire -n NS batch FILE` runs 20,000 operations: exit 0 or 1, never a signal, within 60 s',
  async () => {
    const ns = uniqueName('fc');
    ip('netns', 'add', ns);
    const file = path.join(os.tmpdir(), `hwfault-${process.pid}.batch`);
    try {
      const lines: string[] = [];
      for (const line of ['tap add ft%', 'link set ft% up', 'link set ft% mtu 1400', 'link del ft%'])
        for (let i = 0; i < 5000; i++) lines.push(line.replace('%', String(i)));
      fs.writeFileSync(file, lines.join('\n') + '\n');
      const child = spawn(process.execPath, [CLI, '-n', ns, 'batch', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
        child.on('exit', (code, signal) => r({ code, signal })),
      );
      await new Promise((r) => setTimeout(r, 300));
      ip('netns', 'del', ns);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const { code, signal } = await done;
      clearTimeout(timer);
      assert.is(signal, null, `not ended by a signal (${stderr.slice(0, 300)})`);
      assert.ok(code === 0 || code === 1, `exit ${code}`);
      if (code === 1) assert.match(stderr, /^hostwire: (batch line \d+: )?[A-Z][A-Z0-9_]+: /m, 'a typed code on stderr');
    } finally {
      fs.rmSync(file, { force: true });
      spawnSync('ip', ['netns', 'del', ns]);
    }
  },
);

kernelTest(
  t,
  'a CLI batch SIGKILLed half-way: what it made carries the mark, link show owned finds it, link prune removes it',
  async () => {
    const ns = uniqueName('fk');
    ip('netns', 'add', ns);
    const file = path.join(os.tmpdir(), `hwkill-${process.pid}.batch`);
    try {
      ip('-n', ns, 'link', 'add', 'foreign0', 'type', 'bridge'); // made by someone else: never touched
      const lines: string[] = [];
      // Taps: marked before they become persistent, so a kill never leaves one unmarked. (A bridge
      // or veth gets its mark one round trip after it exists: see OWNER_MARK.)
      for (let i = 0; i < 3000; i++) lines.push(`tap add kt${i}`);
      for (let i = 0; i < 3000; i++) lines.push(`link set kt${i} up`);
      fs.writeFileSync(file, lines.join('\n') + '\n');
      const child = spawn(process.execPath, [CLI, '-n', ns, 'batch', file], { stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      // Killed once some of it exists.
      await until('the batch to make something', () => ipJson('-n', ns, 'link', 'show').length > 50, 20_000);
      child.kill('SIGKILL');
      await exited;
      const left = ipJson('-n', ns, 'link', 'show').filter((l: { ifname: string }) => !['lo', 'foreign0'].includes(l.ifname));
      assert.ok(left.length > 0, 'something was left');
      const owned = JSON.parse(hostwireSync(['-n', ns, '--json', 'link', 'show', 'owned']));
      assert.equal(
        owned.map((l: { name: string }) => l.name).sort(),
        left.map((l: { ifname: string }) => l.ifname).sort(),
        'every device the batch made carries the mark, and only those',
      );
      hostwireSync(['-n', ns, 'link', 'prune']);
      assert.equal(
        ipJson('-n', ns, 'link', 'show')
          .map((l: { ifname: string }) => l.ifname)
          .sort(),
        ['foreign0', 'lo'],
      );
    } finally {
      fs.rmSync(file, { force: true });
      spawnSync('ip', ['netns', 'del', ns]);
    }
  },
);

function hostwireSync(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

kernelTest(t, '/dev/net/tun missing: tap add fails with a typed ENOENT, the process goes on', () => {
  const ns = uniqueName('ft');
  ip('netns', 'add', ns);
  try {
    // A private mount namespace where /dev/net is an empty tmpfs.
    const script = `
      const { Handle } = require(${JSON.stringify(path.resolve(__dirname, '../src/rtnl/handle.js'))});
      (async () => {
        const h = new Handle({ netns: process.argv[1] });
        const e = await h.createTap('nt0').catch((x) => x);
        const links = await h.listLinks();
        h.close();
        console.log(JSON.stringify({ code: e.code, syscall: e.syscall, links: links.map((l) => l.name) }));
      })();`;
    const r = spawnSync(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs tmpfs /dev/net && exec "$0" -e "$1" "$2"',
        process.execPath,
        script,
        ns,
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.is(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout), { code: 'ENOENT', syscall: 'open', links: ['lo'] });
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});

t.run();
