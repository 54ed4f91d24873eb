/**
 * A real libvirtd + QEMU for the real-libvirt test tier, run as ../shared/libvirt-host.md says:
 * inside a throwaway network namespace (hwvirt-<pid>), so every bridge and tap stays there.
 *
 * startLibvirtd() prepares the host idempotently (the libvirt-qemu user, /var/log/libvirt/qemu,
 * qemu.conf user/group root), starts virtlogd and libvirtd with `ip netns exec`, and waits (up to
 * 30 s, polling) until qemu:///system answers. A libvirtd that was already running is used as it
 * is and never stopped (unless `own` asks for a daemon of the caller's: then that is an error).
 * stop() ends only the daemons started here, by PID, deletes the namespace, and removes the files
 * the daemon added under /var/log/libvirt/qemu, /run/libvirt and /var/lib/libvirt/dnsmasq (domain
 * logs, network runtime state, dnsmasq's pid files). Tests destroy their domains before calling
 * stop() (SIGTERM leaves qemu running).
 *
 * realTest() registers a test of this tier: when the tier cannot run here (not root, libvirtd
 * missing, a libvirtd already running), it is skipped through the runner with the reason, and
 * under CI=true it fails instead.
 *
 * Test code may spawn; src/ never does.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import type { suite as uvuSuite, test as uvuTest } from 'uvu';
import { Connection } from '../../src/libvirt';

export const SYSTEM_URI = 'qemu:///system';
const QEMU_CONF = '/etc/libvirt/qemu.conf';

export interface Libvirtd {
  /** The namespace the daemon runs in (null: an outside daemon in the root namespace). */
  ns: string | null;
  /** True when the daemon was already running: it is used, never stopped. */
  external: boolean;
  /** Runs `ip ARGS` in the daemon's namespace; throws on failure. */
  ip(args: string[]): string;
  /** Stops libvirtd only (keeps the namespace and virtlogd): for close-event tests. */
  stopDaemon(): Promise<void>;
  /** Kills libvirtd with `signal` (SIGKILL: no goodbye to its clients) and waits until it is gone. */
  killDaemon(signal?: NodeJS.Signals): Promise<void>;
  /** libvirtd's PID (null while stopped, or for an outside daemon). */
  readonly pid: number | null;
  /** Starts libvirtd again in the same namespace and waits until it answers. */
  startDaemon(): Promise<void>;
  /** Stops what was started here and removes the namespace. Safe to call twice. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * PIDs of live processes named exactly `name`. Zombies do not count: a stopped libvirtd leaves
 * `[libvirtd] <defunct>` children reparented to PID 1, which here reaps them only later.
 */
export function pgrep(name: string): number[] {
  const r = spawnSync('pgrep', ['-x', name], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number).filter(alive);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function killAndWait(pid: number, timeoutMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(50);
  }
}

/** PIDs of the processes in the named network namespace (name null: none). */
export function pidsInNetns(ns: string): number[] {
  let ino: number;
  try {
    ino = fs.statSync(`/run/netns/${ns}`).ino;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${d}/ns/net`) === `net:[${ino}]` && alive(Number(d))) out.push(Number(d));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/** The PID in /run/NAME.pid once it names a live process called NAME (up to 10 s). */
async function daemonPid(name: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const pid = Number(fs.readFileSync(`/run/${name}.pid`, 'utf8').trim());
      if (pid > 0 && alive(pid) && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name) return pid;
    } catch {
      /* not written yet */
    }
    await sleep(50);
  }
  throw new Error(`${name} -d left no running daemon (see /var/log/libvirt)`);
}

/**
 * Where a daemon leaves files behind its definitions: each domain's log, each network's runtime
 * directory and dnsmasq's pid and lease files. (Not /var/cache/libvirt: QEMU's capabilities cache
 * is what makes the next start fast.)
 */
const STATE_DIRS = ['/var/log/libvirt/qemu', '/run/libvirt/network', '/run/libvirt/qemu', '/var/lib/libvirt/dnsmasq'];

/** The entries of STATE_DIRS before a daemon of ours starts. */
function snapshotState(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const dir of STATE_DIRS) {
    try {
      out.set(dir, new Set(fs.readdirSync(dir)));
    } catch {
      out.set(dir, new Set());
    }
  }
  return out;
}

/** After our daemon stopped (one system libvirtd per machine, so every new entry is its): removes what it added. */
function removeNewState(before: Map<string, Set<string>>): void {
  for (const [dir, had] of before) {
    let now: string[];
    try {
      now = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const f of now) if (!had.has(f)) fs.rmSync(`${dir}/${f}`, { recursive: true, force: true });
  }
}

/** The host preparation of libvirt-host.md, each step only when needed. */
export function prepareHost(): void {
  if (spawnSync('getent', ['passwd', 'libvirt-qemu']).status !== 0) {
    run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/var/lib/libvirt',
      '--shell',
      '/usr/sbin/nologin',
      'libvirt-qemu',
    ]);
  }
  fs.mkdirSync('/var/log/libvirt/qemu', { recursive: true });
  let conf = fs.existsSync(QEMU_CONF) ? fs.readFileSync(QEMU_CONF, 'utf8') : '';
  const before = conf;
  for (const key of ['user', 'group']) {
    const want = `${key} = "root"`;
    const re = new RegExp(`^${key}\\s*=.*$`, 'm');
    if (new RegExp(`^${key}\\s*=\\s*"root"\\s*$`, 'm').test(conf)) continue;
    conf = re.test(conf) ? conf.replace(re, want) : conf + (conf === '' || conf.endsWith('\n') ? '' : '\n') + want + '\n';
  }
  if (conf !== before) {
    fs.mkdirSync('/etc/libvirt', { recursive: true });
    fs.writeFileSync(QEMU_CONF, conf);
  }
}

/** Waits until qemu:///system answers (a connection opens and reports its version). */
export async function waitReady(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await Connection.open(SYSTEM_URI);
      try {
        await c.getVersion();
        return;
      } finally {
        await c.close();
      }
    } catch (e) {
      last = e;
      await sleep(200);
    }
  }
  throw new Error(`libvirtd did not answer within ${timeoutMs} ms: ${String((last as Error)?.message ?? last)}`);
}

export interface StartOptions {
  /** Only a daemon started here will do: an outside one is an error instead of being used. */
  own?: boolean;
  /** More libvirtd arguments, e.g. ['--listen', '--config', FILE] (TCP, as libvirt-host.md's remote section says). */
  args?: string[];
  /** More environment for libvirtd, e.g. { SASL_CONF_PATH: DIR } (a private SASL configuration). */
  env?: Record<string, string>;
}

/** Starts (or finds) a libvirtd; see the module comment. */
export async function startLibvirtd(options: StartOptions = {}): Promise<Libvirtd> {
  for (const bin of ['/usr/sbin/libvirtd', '/usr/sbin/virtlogd']) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing (install libvirt-daemon; .ci/bootstrap does)`);
  }
  const outside = pgrep('libvirtd');
  if (outside.length > 0 && options.own) throw new Error(`a libvirtd is already running (pid ${outside.join(', ')})`);
  if (outside.length > 0) {
    const pid = outside[0];
    const ns = spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).stdout.trim() || null;
    await waitReady();
    const noop = async (): Promise<void> => {
      throw new Error('an outside libvirtd is never stopped or started by the tests');
    };
    return {
      ns,
      external: true,
      pid: null,
      ip: (args) => run('nsenter', ['-t', String(pid), '-n', 'ip', ...args]),
      stopDaemon: noop,
      killDaemon: noop,
      startDaemon: noop,
      stop: async () => undefined,
    };
  }

  prepareHost();
  const state = snapshotState();
  const ns = `hwvirt-${process.pid}`;
  let libvirtdPid: number | null = null;
  let virtlogdPid: number | null = null;
  let stopped = false;

  const startDaemon = async (): Promise<void> => {
    // `-d` forks: the process that `ip netns exec` ran exits once the daemon is up, and the
    // daemon's own PID is the one in its pid file (pgrep could catch the exiting parent).
    execFileSync('ip', ['netns', 'exec', ns, 'libvirtd', '-d', ...(options.args ?? [])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    libvirtdPid = await daemonPid('libvirtd');
    await waitReady();
  };
  const stopDaemon = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (libvirtdPid !== null) await killAndWait(libvirtdPid, 10_000, signal);
    libvirtdPid = null;
    // Its forked helpers (still named libvirtd) go with it a moment later.
    const deadline = Date.now() + 10_000;
    while (pidsInNetns(ns).some((p) => comm(p) === 'libvirtd') && Date.now() < deadline) await sleep(50);
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopDaemon();
    if (virtlogdPid !== null) await killAndWait(virtlogdPid);
    // Whatever still runs in the namespace was started there by this harness (a qemu whose
    // domain a failed test could not destroy): end it, by PID, before deleting the namespace.
    for (const pid of pidsInNetns(ns)) await killAndWait(pid);
    spawnSync('ip', ['netns', 'del', ns]);
    removeNewState(state);
  };

  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    if (pgrep('virtlogd').length === 0) {
      run('ip', ['netns', 'exec', ns, 'virtlogd', '-d']);
      virtlogdPid = await daemonPid('virtlogd');
    }
    await startDaemon();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ns,
    external: false,
    get pid() {
      return libvirtdPid;
    },
    ip: (args) => run('ip', ['-n', ns, ...args]),
    stopDaemon: () => stopDaemon(),
    killDaemon: (signal = 'SIGKILL') => stopDaemon(signal),
    startDaemon,
    stop,
  };
}

/**
 * Why a daemon of the test's own cannot start here, or null when it can. Checked when a test file
 * is loaded (before any test starts a daemon), so that uvu can report a skip.
 */
export function realTierBlocker(needs: string[] = []): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const bin of ['/usr/sbin/libvirtd', '/usr/sbin/virtlogd', '/usr/bin/qemu-system-x86_64', ...needs]) {
    if (!fs.existsSync(bin)) return `${bin} is missing (.ci/bootstrap installs it)`;
  }
  const running = pgrep('libvirtd');
  if (running.length) return `a libvirtd is already running (pid ${running.join(', ')}); the tier starts and stops its own`;
  return null;
}

const CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * A test of the real tier. When realTierBlocker() names a reason, it is skipped through the
 * runner ("(skipped: REASON)" in its name, counted as skipped), and under CI=true it fails.
 * `needs` adds files the test needs (saslpasswd2 ...).
 */
export function realTest(
  suite: ReturnType<typeof uvuSuite> | typeof uvuTest,
  name: string,
  fn: () => Promise<void>,
  needs: string[] = [],
): void {
  const why = realTierBlocker(needs);
  if (why === null) suite(name, fn);
  else if (CI)
    suite(name, () => {
      throw new Error(`the real libvirt tier cannot run here (${why}), and CI must run it`);
    });
  else {
    suite.skip(`${name} (skipped: ${why})`, fn);
    process.stderr.write(`skipped: ${name}: ${why}\n`);
  }
}
