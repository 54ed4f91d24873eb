/**
 * libvirt through hostwire against what people use today, on one real libvirtd + QEMU (started in
 * a throwaway namespace by test/helpers/libvirtd.ts, stopped by PID at the end), one bridged
 * network and one diskless q35 domain (test/helpers/vm.ts):
 *
 *   - NIC hot-plug then unplug, matched by MAC: hostwire (library, one open connection:
 *     attachInterface, detachInterface), libvirt-python (library, one open connection, the same
 *     calls: lookupByName, attachDeviceFlags; lookupByName, XMLDesc, detachDeviceFlags) and
 *     `virsh attach-interface` / `virsh detach-interface` against `hostwire domain attach-interface`
 *     / `detach-interface` (the package's command: a process per operation each). Interleaved,
 *     medians of R. Each detach returns when libvirt does (QEMU's DEVICE_DELETED, waited for inside
 *     libvirt); between reps the NIC is checked gone, untimed.
 *   - 200 concurrent lookups (domainLookupByName and networkLookupByName alternating) on one
 *     connection: hostwire (Promise.all; the calls run on libuv's pool) against libvirt-python
 *     with a thread pool (4 threads, as libuv's default pool, and 32; and 4 with libvirt's event
 *     loop running, as hostwire always has it, for events and keepalive). Interleaved, medians of R.
 *   - the event-loop delay (perf_hooks.monitorEventLoopDelay) of this process while hostwire does
 *     each of the two, R rounds back to back (and the hot-plugs again with a PortWatcher open).
 *   - the port join: for hot-plugs and unplugs through hostwire with a PortWatcher open, the
 *     delay from the kernel's link event to the joined ready / gone event (PortEvent.delayMs).
 *
 *   node dist/bench/libvirt.js [--reps R] [--lookups N] [--json FILE]
 *
 * Root (it starts the daemon). libvirt-python comes from Debian's python3-libvirt, installed with
 * apt when missing; it runs as a child process taking one JSON command per line and timing each
 * command itself, as hostwire's side is timed in this process. Never part of npm test.
 */
import { execFile, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'perf_hooks';
import { Connection, type Domain } from '../src/libvirt';
import { attachInterface, detachInterface, randomMac } from '../src/workflow/domain';
import { PortWatcher, type PortEvent } from '../src/workflow/ports';
import { buildXml } from '../src/xml/parser';
import { SYSTEM_URI, startLibvirtd, type Libvirtd } from '../test/helpers/libvirtd';
import { removeDefinitions, vmXml, waitFor } from '../test/helpers/vm';

const TAG = `hwbench${process.pid}`;
const NET = `${TAG}-net`;
const DOM = `${TAG}-dom`;
const BRIDGE = `hwbb${process.pid % 1_000_000}`;

const log = (s: string): void => void process.stderr.write(s + '\n');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function args(argv: string[]) {
  const get = (k: string, d?: string) => option(argv, k, d);
  const reps = Number(get('--reps', '15'));
  const lookups = Number(get('--lookups', '200'));
  if (!Number.isInteger(reps) || reps < 1 || !Number.isInteger(lookups) || lookups < 1)
    throw new Error('usage: libvirt [--reps R] [--lookups N] [--json FILE]');
  return { reps, lookups, json: get('--json') };
}

// ---- libvirt-python, as a child taking commands --------------------------------------------------

const PYTHON_SERVER = String.raw`
import json, sys, time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
import libvirt

libvirt.registerErrorHandler(lambda ctx, err: None, None)
uri, dom_name, net_name, events = sys.argv[1:5]
if events == 'events':
    # libvirt's event loop on a thread of its own, as an application taking events runs it (and as
    # hostwire always does): registered before the connection is opened.
    import threading
    libvirt.virEventRegisterDefaultImpl()
    def run():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=run, daemon=True).start()
conn = libvirt.open(uri)
pools = {}

def iface(mac):
    return ("<interface type='network'><mac address='%s'/><source network='%s'/>"
            "<model type='virtio'/></interface>" % (mac, net_name))

def attach(mac):
    d = conn.lookupByName(dom_name)
    d.attachDeviceFlags(iface(mac), libvirt.VIR_DOMAIN_AFFECT_LIVE)

def detach(mac):
    d = conn.lookupByName(dom_name)
    for i in ET.fromstring(d.XMLDesc(0)).findall('./devices/interface'):
        m = i.find('mac')
        if m is not None and m.get('address', '').lower() == mac:
            d.detachDeviceFlags(ET.tostring(i, encoding='unicode'), libvirt.VIR_DOMAIN_AFFECT_LIVE)
            return
    raise Exception('no interface with MAC ' + mac)

def one(i):
    if i % 2:
        conn.lookupByName(dom_name)
    else:
        conn.networkLookupByName(net_name)

def pool(n):
    if n not in pools:
        pools[n] = ThreadPoolExecutor(max_workers=n)
        list(pools[n].map(lambda _: time.sleep(0.01), range(n)))  # every thread started
    return pools[n]

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd["op"] == "attach":
            t0 = time.perf_counter(); attach(cmd["mac"]); out = {"ms": (time.perf_counter() - t0) * 1000}
        elif cmd["op"] == "detach":
            t0 = time.perf_counter(); detach(cmd["mac"]); out = {"ms": (time.perf_counter() - t0) * 1000}
        elif cmd["op"] == "lookups":
            ex = pool(cmd["threads"])
            t0 = time.perf_counter(); list(ex.map(one, range(cmd["n"]))); out = {"ms": (time.perf_counter() - t0) * 1000}
        else:
            out = {"error": "unknown op"}
    except Exception as e:
        out = {"error": str(e)}
    print(json.dumps(out), flush=True)
`;
import { option } from './args';

/** A python3 that imports libvirt (Debian's, not a pyenv one); installs python3-libvirt when missing. */
function pythonWithLibvirt(): string {
  const candidates = ['/usr/bin/python3', 'python3'];
  const works = () => candidates.find((p) => spawnSync(p, ['-c', 'import libvirt'], { stdio: 'ignore' }).status === 0);
  let py = works();
  if (!py) {
    log('installing python3-libvirt (apt-get) ...');
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-libvirt'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error('apt-get install python3-libvirt failed');
    py = works();
  }
  if (!py) throw new Error('no python3 here imports libvirt after installing python3-libvirt');
  return py;
}

class PythonLibvirt {
  readonly version: string;
  #child: ChildProcessWithoutNullStreams;
  #buf = '';
  #waiting: ((v: Record<string, unknown>) => void)[] = [];

  private constructor(child: ChildProcessWithoutNullStreams, version: string) {
    this.#child = child;
    this.version = version;
    child.stdout.on('data', (d: Buffer) => {
      this.#buf += d;
      for (let i = this.#buf.indexOf('\n'); i >= 0; i = this.#buf.indexOf('\n')) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        this.#waiting.shift()?.(JSON.parse(line));
      }
    });
  }

  /** With `events`, libvirt's default event loop runs on a thread of the python process. */
  static async start(events = false): Promise<PythonLibvirt> {
    const py = pythonWithLibvirt();
    const version = spawnSync(py, ['-c', 'import libvirt, sys; print(sys.version.split()[0], libvirt.getVersion())'], { encoding: 'utf8' })
      .stdout.trim()
      .replace(/ (\d+)$/, (_, v: string) => ` libvirt-python ${Math.floor(+v / 1e6)}.${Math.floor(+v / 1e3) % 1000}.${+v % 1000}`);
    const file = path.join(os.tmpdir(), `${TAG}-server.py`);
    if (!fs.existsSync(file)) {
      fs.writeFileSync(file, PYTHON_SERVER);
      process.once('exit', () => fs.rmSync(file, { force: true }));
    }
    const child = spawn(py, [file, SYSTEM_URI, DOM, NET, events ? 'events' : 'no-events'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const self = new PythonLibvirt(child, `Python ${version}`);
    const hello = await self.#next();
    if (!hello.ready) throw new Error(`libvirt-python did not start: ${JSON.stringify(hello)}`);
    return self;
  }

  #next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('libvirt-python exited'));
      this.#child.once('exit', onExit);
      this.#waiting.push((v) => (this.#child.off('exit', onExit), resolve(v)));
    });
  }

  /** Runs one command; resolves the milliseconds python measured. */
  async run(cmd: Record<string, unknown>): Promise<number> {
    const p = this.#next();
    this.#child.stdin.write(JSON.stringify(cmd) + '\n');
    const out = await p;
    if (out.error) throw new Error(`libvirt-python ${String(cmd.op)}: ${String(out.error)}`);
    return out.ms as number;
  }

  stop(): void {
    this.#child.stdin.end();
    this.#child.kill();
  }
}

// ---- the implementations ------------------------------------------------------------------------

interface Plugger {
  name: string;
  attach(mac: string): Promise<number>;
  detach(mac: string): Promise<number>;
}

function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  return fn().then(() => performance.now() - t0);
}

/** Runs virsh without blocking this process's event loop. */
function virsh(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('virsh', ['-q', '-c', SYSTEM_URI, ...argv], (err, _out, stderr) =>
      err ? reject(new Error(`virsh ${argv.join(' ')}: ${stderr || err.message}`)) : resolve(),
    ),
  );
}

/** The package's `hostwire` command (dist/bundle/bin.js), a process per operation as virsh is here. */
const HOSTWIRE_BIN = path.join(__dirname, '..', 'bundle', 'bin.js');

/** Runs the hostwire command without blocking this process's event loop. */
function hostwireCli(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [HOSTWIRE_BIN, '--uri', SYSTEM_URI, ...argv], (err, _out, stderr) =>
      err ? reject(new Error(`hostwire ${argv.join(' ')}: ${stderr || err.message}`)) : resolve(),
    ),
  );
}

function hostwireCliPlugger(): Plugger {
  return {
    name: 'hostwire domain attach-/detach-interface (process per op)',
    attach: (mac) =>
      timed(() => hostwireCli(['domain', 'attach-interface', DOM, '--network', NET, '--mac', mac, '--model', 'virtio', '--live'])),
    // It then reads the live XML once more, to say whether the NIC is gone (libvirt has waited for QEMU).
    detach: (mac) => timed(() => hostwireCli(['domain', 'detach-interface', DOM, '--mac', mac, '--live'])),
  };
}

function hostwirePlugger(c: Connection): Plugger {
  return {
    name: 'hostwire (library, open connection)',
    attach: (mac) => timed(() => attachInterface(c, DOM, { network: NET, mac, model: 'virtio', live: true })),
    detach: (mac) => timed(() => detachInterface(c, DOM, { mac, live: true, waitMs: 0 })),
  };
}

function pythonPlugger(py: PythonLibvirt): Plugger {
  return {
    name: 'libvirt-python (library, open connection)',
    attach: (mac) => py.run({ op: 'attach', mac }),
    detach: (mac) => py.run({ op: 'detach', mac }),
  };
}

function virshPlugger(): Plugger {
  return {
    name: 'virsh attach-/detach-interface (process per op)',
    attach: (mac) =>
      timed(() =>
        virsh(['attach-interface', '--domain', DOM, '--type', 'network', '--source', NET, '--mac', mac, '--model', 'virtio', '--live']),
      ),
    // A NIC hot-plugged from a network shows as type 'bridge' in the live XML, which virsh matches on.
    detach: (mac) => timed(() => virsh(['detach-interface', '--domain', DOM, '--type', 'bridge', '--mac', mac, '--live'])),
  };
}

// ---- the trials ---------------------------------------------------------------------------------

interface PlugRow {
  impl: string;
  attach_ms: number;
  detach_ms: number;
  total_ms: number;
  runs: Array<{ attach_ms: number; detach_ms: number }>;
}

const nicGone = (dom: Domain, mac: string) =>
  waitFor(
    () => dom.interfaces(),
    (ifs) => !ifs.some((i) => i.mac === mac),
    `NIC ${mac} gone`,
    20_000,
  );

async function plugTrial(dom: Domain, impls: Plugger[], reps: number): Promise<PlugRow[]> {
  const runs = new Map<string, Array<{ attach_ms: number; detach_ms: number }>>(impls.map((i) => [i.name, []]));
  // One warm-up round, not counted (first hot-plug into a root port, the python pool, virsh's page cache).
  for (let r = -1; r < reps; r++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(k + Math.max(r, 0)) % impls.length];
      const mac = randomMac();
      const attach = await impl.attach(mac);
      const detach = await impl.detach(mac);
      await nicGone(dom, mac);
      if (r >= 0) runs.get(impl.name)!.push({ attach_ms: r3(attach), detach_ms: r3(detach) });
    }
    if (r >= 0) log(`  plug rep ${r + 1}/${reps}`);
  }
  return impls.map((i) => {
    const rs = runs.get(i.name)!;
    return {
      impl: i.name,
      attach_ms: r1(median(rs.map((x) => x.attach_ms))),
      detach_ms: r1(median(rs.map((x) => x.detach_ms))),
      total_ms: r1(median(rs.map((x) => x.attach_ms + x.detach_ms))),
      runs: rs,
    };
  });
}

interface LookupRow {
  impl: string;
  wall_ms: number;
  per_s: number;
  runs_ms: number[];
}

/** n lookups at once through hostwire; resolves the wall time. */
async function hostwireLookups(c: Connection, n: number): Promise<number> {
  const t0 = performance.now();
  const objs = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? c.domainLookupByName(DOM) : c.networkLookupByName(NET))));
  const ms = performance.now() - t0;
  for (const o of objs) o.free();
  return ms;
}

async function lookupTrial(c: Connection, py: PythonLibvirt, pyEvents: PythonLibvirt, n: number, reps: number): Promise<LookupRow[]> {
  const impls: Array<{ name: string; run: () => Promise<number> }> = [
    { name: `hostwire (Promise.all, libuv pool of ${process.env.UV_THREADPOOL_SIZE ?? 4})`, run: () => hostwireLookups(c, n) },
    { name: 'libvirt-python (ThreadPoolExecutor, 4 threads)', run: () => py.run({ op: 'lookups', n, threads: 4 }) },
    { name: 'libvirt-python (ThreadPoolExecutor, 32 threads)', run: () => py.run({ op: 'lookups', n, threads: 32 }) },
    {
      name: "libvirt-python (4 threads, libvirt's event loop running)",
      run: () => pyEvents.run({ op: 'lookups', n, threads: 4 }),
    },
  ];
  const runs = new Map<string, number[]>(impls.map((i) => [i.name, []]));
  for (let r = -1; r < reps; r++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(k + Math.max(r, 0)) % impls.length];
      const ms = await impl.run();
      if (r >= 0) runs.get(impl.name)!.push(r3(ms));
    }
  }
  return impls.map((i) => {
    const ms = runs.get(i.name)!;
    const m = median(ms);
    return { impl: i.name, wall_ms: r1(m), per_s: Math.round(n / (m / 1000)), runs_ms: ms };
  });
}

interface JoinRow {
  event: 'ready' | 'gone';
  count: number;
  trigger: string;
  median_ms: number;
  max_ms: number;
}

/**
 * Each kind of hostwire work back to back, alone, with one event-loop delay histogram enabled once
 * for all of it (a histogram disabled and enabled again records the pause as one long delay).
 */
async function eventLoopTrial(
  c: Connection,
  dom: Domain,
  n: number,
  reps: number,
): Promise<{ plug: IntervalHistogram; lookups: IntervalHistogram }> {
  const plug = monitorEventLoopDelay({ resolution: 1 });
  plug.enable();
  for (let r = 0; r < reps; r++) {
    const mac = randomMac();
    await attachInterface(c, DOM, { network: NET, mac, model: 'virtio', live: true });
    await detachInterface(c, DOM, { mac, live: true, waitMs: 0 });
    await nicGone(dom, mac);
  }
  plug.disable();
  const lookups = monitorEventLoopDelay({ resolution: 1 });
  lookups.enable();
  for (let r = 0; r < reps; r++) await hostwireLookups(c, n);
  lookups.disable();
  return { plug, lookups };
}

/** Hot-plugs and unplugs through hostwire with a PortWatcher open; the delays its events carry. */
async function joinTrial(c: Connection, ns: string, reps: number, hist: IntervalHistogram): Promise<JoinRow[]> {
  const pw = await PortWatcher.open(c, { netns: ns });
  const seen: PortEvent[] = [];
  pw.on('event', (e: PortEvent) => seen.push(e));
  hist.enable();
  try {
    for (let r = 0; r < reps; r++) {
      const mac = randomMac();
      await attachInterface(c, DOM, { network: NET, mac, model: 'virtio', live: true });
      await waitFor(async () => seen.some((e) => e.mac === mac && e.event === 'ready'), Boolean, `ready ${mac}`);
      await detachInterface(c, DOM, { mac, live: true });
      await waitFor(async () => seen.some((e) => e.mac === mac && e.event === 'gone'), Boolean, `gone ${mac}`);
    }
  } finally {
    hist.disable();
    await pw.close();
  }
  const rows: JoinRow[] = [];
  for (const event of ['ready', 'gone'] as const) {
    const evs = seen.filter((e) => e.event === event && !e.initial && e.delayMs !== null);
    const triggers = [...new Set(evs.map((e) => `${e.trigger}${e.reason ? ` (${e.reason})` : ''}`))].join(', ');
    const d = evs.map((e) => e.delayMs as number);
    rows.push({ event, count: evs.length, trigger: triggers, median_ms: r3(median(d)), max_ms: r3(Math.max(...d)) });
  }
  return rows;
}

// ---- output -------------------------------------------------------------------------------------

function delayRow(h: IntervalHistogram): { p50_ms: number; p99_ms: number; max_ms: number; samples: number } {
  return { p50_ms: r1(h.percentile(50) / 1e6), p99_ms: r1(h.percentile(99) / 1e6), max_ms: r1(h.max / 1e6), samples: h.count };
}

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('   ')).join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the libvirt bench needs root (it starts libvirtd in a namespace)');
  const { reps, lookups, json } = args(process.argv.slice(2));
  const daemon: Libvirtd = await startLibvirtd();
  let c: Connection | null = null;
  let py: PythonLibvirt | null = null;
  let pyEvents: PythonLibvirt | null = null;
  try {
    if (daemon.ns === null)
      throw new Error('an outside libvirtd runs in the root namespace: the bench makes a bridge, so it needs its own');
    c = await Connection.open(SYSTEM_URI);
    daemon.ip(['link', 'add', BRIDGE, 'type', 'bridge']);
    daemon.ip(['link', 'set', BRIDGE, 'up']);
    const net = await c.networkDefineXML(
      buildXml({ network: { name: NET, forward: { '@_mode': 'bridge' }, bridge: { '@_name': BRIDGE } } }),
    );
    await net.create();
    net.free();
    const dom = await c.domainDefineXML(vmXml(DOM, NET));
    await dom.create();
    await waitFor(
      () => dom.interfaces(),
      (ifs) => ifs.length === 1 && !!ifs[0].target,
      'domain running with its NIC',
    );
    py = await PythonLibvirt.start();
    pyEvents = await PythonLibvirt.start(true);
    const versions = {
      node: process.version,
      libvirt: `${(await c.getLibVersion()).major}.${(await c.getLibVersion()).minor}.${(await c.getLibVersion()).release}`,
      qemu: `${(await c.getVersion()).major}.${(await c.getVersion()).minor}.${(await c.getVersion()).release}`,
      python: py.version,
      cpus: os.cpus().length,
      loadavg: os.loadavg().map(r1),
    };
    log(`libvirt bench: ${reps} reps, ${lookups} lookups; ${JSON.stringify(versions)}`);

    const plug = await plugTrial(dom, [hostwirePlugger(c), pythonPlugger(py), hostwireCliPlugger(), virshPlugger()], reps);
    const look = await lookupTrial(c, py, pyEvents, lookups, reps);
    log('  event-loop delay ...');
    const eld = await eventLoopTrial(c, dom, lookups, reps);
    log('  port join ...');
    const joinHist = monitorEventLoopDelay({ resolution: 1 });
    const join = await joinTrial(c, daemon.ns, reps, joinHist);
    const loop = { plug: delayRow(eld.plug), lookups: delayRow(eld.lookups), plug_with_ports: delayRow(joinHist) };

    const base = plug[0].total_ms;
    console.log(
      `\nNIC hot-plug + unplug (live, by MAC; diskless q35, TCG), ${reps} reps interleaved, medians\n` +
        table(
          ['impl', 'attach ms', 'detach ms', 'total ms', 'x hostwire'],
          plug.map((p) => [p.impl, p.attach_ms.toFixed(1), p.detach_ms.toFixed(1), p.total_ms.toFixed(1), (p.total_ms / base).toFixed(2)]),
        ),
    );
    const lbase = look[0].wall_ms;
    console.log(
      `\n${lookups} concurrent lookups (domainLookupByName / networkLookupByName), one connection, ${reps} reps interleaved, medians\n` +
        table(
          ['impl', 'wall ms', 'lookups/s', 'x hostwire'],
          look.map((l) => [l.impl, l.wall_ms.toFixed(1), l.per_s, (l.wall_ms / lbase).toFixed(2)]),
        ),
    );
    console.log(
      `\nEvent-loop delay of the hostwire process, ${reps} rounds of each back to back (monitorEventLoopDelay, resolution 1 ms)\n` +
        table(
          ['during', 'p50 ms', 'p99 ms', 'max ms', 'samples'],
          [
            ['NIC hot-plug + unplug', loop.plug.p50_ms, loop.plug.p99_ms, loop.plug.max_ms, loop.plug.samples],
            [
              '  the same, PortWatcher open',
              loop.plug_with_ports.p50_ms,
              loop.plug_with_ports.p99_ms,
              loop.plug_with_ports.max_ms,
              loop.plug_with_ports.samples,
            ],
            [`${lookups} concurrent lookups`, loop.lookups.p50_ms, loop.lookups.p99_ms, loop.lookups.max_ms, loop.lookups.samples],
          ].map((r) => r.map((x) => (typeof x === 'number' && !Number.isInteger(x) ? x.toFixed(1) : x))),
        ),
    );
    console.log(
      `\nPort join (PortWatcher): kernel link event -> joined event, ${join[0].count} hot-plugs and unplugs through hostwire\n` +
        table(
          ['event', 'n', 'median ms', 'max ms', 'completed by'],
          join.map((j) => [j.event, j.count, j.median_ms.toFixed(3), j.max_ms.toFixed(3), j.trigger]),
        ),
    );
    if (json) {
      fs.writeFileSync(
        json,
        JSON.stringify({ reps, lookups, versions, plug, lookups_trial: look, event_loop: loop, join }, null, 2) + '\n',
      );
      log(`wrote ${json}`);
    }
    dom.free();
  } finally {
    py?.stop();
    pyEvents?.stop();
    if (c) {
      await removeDefinitions(c, [DOM], [NET]).catch((e) => log(`cleanup: ${String(e)}`));
      await c.close();
    }
    if (daemon.ns !== null) spawnSync('ip', ['-n', daemon.ns, 'link', 'del', BRIDGE]);
    await daemon.stop();
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
