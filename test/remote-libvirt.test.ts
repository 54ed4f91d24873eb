/**
 * Real tier, libvirt over the network: a libvirtd in a "host" namespace listening on TCP with
 * SASL (DIGEST-MD5, a user made with saslpasswd2 in a private sasldb; the daemon reads a private
 * SASL configuration through SASL_CONF_PATH, so nothing under /etc/sasl2 is written), reached
 * from a "client" namespace over a veth underlay (10.99.0.0/24) at qemu+tcp://10.99.0.1/system.
 *
 * - The CLI connects with credentials from $HOSTWIRE_AUTH_FILE, and from $HOSTWIRE_USERNAME /
 *   $HOSTWIRE_PASSWORD; a wrong password is VIR_ERR_AUTH_FAILED; a group-readable file EAUTHFILE.
 * - The library (helpers/remote-client.ts, a child in the client namespace): the wrong password
 *   refused with a typed LibvirtError; the right one answered by the credential callback
 *   (AUTHNAME and PASSPHRASE asked); network events defined through the local socket arrive over
 *   TCP; the underlay cut, keepalive (2 s x 3) closes the connection with reason KEEPALIVE within
 *   2 x 3 + 5 s, and the client process then ends by itself.
 * - No credential appears in any process's argv (every /proc/PID/cmdline, polled while the test
 *   runs) or in any output.
 *
 * Nothing is left behind: daemon, namespaces, the network definition, the temporary directory
 * with the SASL database and the credential files.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Connection } from '../src/libvirt';
import { buildXml } from '../src/xml/parser';
import { CLI } from './helpers/kernel';
import { SYSTEM_URI, pgrep, realTest, startLibvirtd, type Libvirtd } from './helpers/libvirtd';
import { removeDefinitions } from './helpers/vm';

const URI = 'qemu+tcp://10.99.0.1/system';
const USER = 'hwremote';
const GOOD = `good-${randomBytes(12).toString('hex')}`;
const BAD = `bad-${randomBytes(12).toString('hex')}`;
const CLIENT_NS = `hwrc${process.pid}`;
const NET = `hwremote${process.pid}-net`;
const KEEPALIVE = { interval: 2, count: 3 };
const CLIENT_JS = path.join(__dirname, 'helpers', 'remote-client.js');

/** Cyrus SASL's DIGEST-MD5 plugin (libsasl2-modules), wherever the multiarch directory is. */
const DIGEST_MD5 =
  ['x86_64-linux-gnu', 'aarch64-linux-gnu', '.']
    .map((d) => path.join('/usr/lib', d, 'sasl2', 'libdigestmd5.so'))
    .find((f) => fs.existsSync(f)) ?? '/usr/lib/x86_64-linux-gnu/sasl2/libdigestmd5.so';

/** Polls every process's argv for the secrets while the test runs. */
class ArgvWatch {
  readonly hits: string[] = [];
  scans = 0;
  /** argv lines seen that ran the client (proof that the watch sees our children). */
  sawClient = 0;
  readonly #timer: NodeJS.Timeout;
  constructor(readonly secrets: string[]) {
    this.#timer = setInterval(() => this.scan(), 20);
  }
  scan(): void {
    this.scans++;
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let argv: string;
      try {
        argv = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1');
      } catch {
        continue; // gone meanwhile
      }
      if (argv.includes(CLIENT_JS) || argv.includes(CLI)) this.sawClient++;
      for (const s of this.secrets) if (argv.includes(s)) this.hits.push(`${d}: ${argv.split('\0').join(' ')}`);
    }
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Collects a child's JSON lines; until() resolves on the first (past or future) match. */
class Lines {
  readonly all: Record<string, unknown>[] = [];
  #waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  #listeners: ((e: Record<string, unknown>) => void)[] = [];
  onLine(fn: (e: Record<string, unknown>) => void): void {
    this.#listeners.push(fn);
  }
  push(e: Record<string, unknown>): void {
    this.all.push(e);
    for (const fn of this.#listeners) fn(e);
    this.#waiters = this.#waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
  }
  until(pred: (e: Record<string, unknown>) => boolean, what: string, ms = 20_000): Promise<Record<string, unknown>> {
    const past = this.all.find(pred);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; seen: ${JSON.stringify(this.all)}`)), ms);
      this.#waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Every byte the children wrote, to check that no credential was ever printed. */
const outputs: string[] = [];

/** `ip netns exec CLIENT node ARGS` with `env` added, asynchronously (the argv watch keeps polling). */
function inClient(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn('ip', ['netns', 'exec', CLIENT_NS, process.execPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<Run>((resolve) =>
    child.on('close', (status) => {
      outputs.push(stdout, stderr);
      resolve({ status, stdout, stderr });
    }),
  );
  return { child, done };
}

const hostwireIn = (args: string[], env: Record<string, string>): Promise<Run> => inClient([CLI, '--uri', URI, ...args], env).done;

function writeSecretFile(file: string, text: string, mode = 0o600): void {
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
}

realTest(
  test,
  'remote libvirtd over TCP + SASL: credentials from the environment, VIR_ERR_AUTH_FAILED, events, keepalive, no credential in argv',
  async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hwremote-'));
    fs.chmodSync(tmp, 0o700);
    let daemon: Libvirtd | null = null;
    let clientNs = false;
    let client: ChildProcess | null = null;
    let local: Connection | null = null;
    const watch = new ArgvWatch([GOOD, BAD]);
    try {
      // A private SASL configuration and user database (SASL_CONF_PATH: nothing in /etc/sasl2).
      const saslDir = path.join(tmp, 'sasl2');
      fs.mkdirSync(saslDir, { mode: 0o700 });
      const db = path.join(saslDir, 'passwd.db');
      // DIGEST-MD5: over plain TCP libvirtd demands a SASL security layer (SSF >= 56), which
      // SCRAM does not give ("no SASL mechanisms are available"); SCRAM needs TLS or a unix socket.
      fs.writeFileSync(path.join(saslDir, 'libvirt.conf'), `mech_list: digest-md5\nsasldb_path: ${db}\n`);
      // The password goes in on stdin (-p), never on saslpasswd2's command line.
      const pw = spawnSync('saslpasswd2', ['-p', '-a', 'libvirt', '-f', db, '-c', USER], { input: GOOD, encoding: 'utf8' });
      assert.is(pw.status, 0, pw.stderr);
      const conf = path.join(tmp, 'libvirtd.conf');
      fs.writeFileSync(
        conf,
        [
          'listen_tls = 0',
          'listen_tcp = 1',
          'auth_tcp = "sasl"',
          'tcp_port = "16509"',
          `log_outputs = "3:file:${tmp}/libvirtd.log"`,
          '',
        ].join('\n'),
      );
      const goodFile = path.join(tmp, 'good.auth');
      const badFile = path.join(tmp, 'bad.auth');
      const openFile = path.join(tmp, 'open.auth');
      writeSecretFile(goodFile, `# hostwire credentials\nusername = ${USER}\npassword = ${GOOD}\n`);
      writeSecretFile(badFile, `username = ${USER}\npassword = ${BAD}\n`);
      writeSecretFile(openFile, `username = ${USER}\npassword = ${GOOD}\n`, 0o640);

      daemon = await startLibvirtd({ own: true, args: ['--listen', '--config', conf], env: { SASL_CONF_PATH: saslDir } });
      const hostNs = daemon.ns!;
      // The underlay: host 10.99.0.1 -- client 10.99.0.2.
      spawnSync('ip', ['netns', 'add', CLIENT_NS]);
      clientNs = true;
      const ip = (...args: string[]): void => {
        const r = spawnSync('ip', args, { encoding: 'utf8' });
        assert.is(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
      };
      ip('-n', CLIENT_NS, 'link', 'set', 'lo', 'up');
      ip('-n', hostNs, 'link', 'add', 'hwu0', 'type', 'veth', 'peer', 'name', 'hwu1', 'netns', CLIENT_NS);
      ip('-n', hostNs, 'addr', 'add', '10.99.0.1/24', 'dev', 'hwu0');
      ip('-n', hostNs, 'link', 'set', 'hwu0', 'up');
      ip('-n', CLIENT_NS, 'addr', 'add', '10.99.0.2/24', 'dev', 'hwu1');
      ip('-n', CLIENT_NS, 'link', 'set', 'hwu1', 'up');

      // The CLI: the file, the environment, a wrong password, a file others can read.
      const listed = await hostwireIn(['net', 'list', '--all'], { HOSTWIRE_AUTH_FILE: goodFile });
      assert.is(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, /Name\s+State\s+Autostart\s+Persistent/);
      const viaEnv = await hostwireIn(['--json', 'net', 'list', '--all'], { HOSTWIRE_USERNAME: USER, HOSTWIRE_PASSWORD: GOOD });
      assert.is(viaEnv.status, 0, viaEnv.stderr);
      assert.ok(Array.isArray(JSON.parse(viaEnv.stdout)));
      const refused = await hostwireIn(['--json', 'net', 'list'], { HOSTWIRE_AUTH_FILE: badFile });
      assert.is(refused.status, 1);
      assert.is(JSON.parse(refused.stderr).code, 'VIR_ERR_AUTH_FAILED', refused.stderr);
      const none = await hostwireIn(['--json', 'net', 'list'], {});
      assert.is(none.status, 1);
      assert.is(JSON.parse(none.stderr).code, 'VIR_ERR_AUTH_FAILED', none.stderr);
      const exposed = await hostwireIn(['--json', 'net', 'list'], { HOSTWIRE_AUTH_FILE: openFile });
      assert.is(exposed.status, 1);
      assert.is(JSON.parse(exposed.stderr).code, 'EAUTHFILE', exposed.stderr);

      // The library, in a child in the client namespace.
      const lines = new Lines();
      const c = inClient([CLIENT_JS, URI], { HOSTWIRE_AUTH_FILE: goodFile, WRONG_AUTH_FILE: badFile });
      client = c.child;
      let buf = '';
      c.child.stdout!.on('data', (d: Buffer) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
          buf = buf.slice(i + 1);
        }
      });
      const failed = new Promise<never>((_, reject) =>
        lines.onLine((l) => (l.step === 'error' || l.step === 'timeout' ? reject(new Error(`client: ${JSON.stringify(l)}`)) : undefined)),
      );
      failed.catch(() => undefined);
      const step = (name: string, ms?: number) => Promise.race([lines.until((l) => l.step === name, name, ms), failed]);

      const wrong = await step('refused');
      assert.equal(wrong, { step: 'refused', code: 'VIR_ERR_AUTH_FAILED', libvirtError: true });
      const opened = await step('open');
      assert.is(opened.type, 'QEMU');
      assert.is(opened.alive, true);
      const asked = opened.asked as number[][];
      assert.ok(asked.length >= 1, 'the credential callback was called');
      assert.ok(asked[0].includes(2) && asked[0].includes(5), `AUTHNAME (2) and PASSPHRASE (5) asked: ${JSON.stringify(asked)}`);
      assert.is((await step('subscribed')).keepalive, true, 'the daemon answers keepalive');

      // Events caused through the local socket arrive over TCP.
      local = await Connection.open(SYSTEM_URI);
      const net = await local.networkDefineXML(
        buildXml({ network: { name: NET, forward: { '@_mode': 'bridge' }, bridge: { '@_name': 'hwrbr0' } } }),
      );
      await net.undefine();
      net.free();
      await lines.until((l) => l.step === 'event' && l.name === NET && l.event === 'DEFINED', 'DEFINED over TCP');
      await lines.until((l) => l.step === 'event' && l.name === NET && l.event === 'UNDEFINED', 'UNDEFINED over TCP');

      // The underlay is cut (the host's end goes down: packets vanish, no RST, no error on send).
      const budget = KEEPALIVE.interval * KEEPALIVE.count * 1000 + 5000;
      const cutAt = Date.now();
      ip('-n', hostNs, 'link', 'set', 'hwu0', 'down');
      const closed = await step('close', budget + 5000);
      assert.is(closed.reason, 'KEEPALIVE');
      const took = (closed.at as number) - cutAt;
      assert.ok(took <= budget, `the dead peer reported after ${took} ms (budget ${budget} ms)`);
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([c.done, new Promise<null>((r) => (timer = setTimeout(() => r(null), 10_000)))]);
      clearTimeout(timer);
      assert.ok(exit, 'the client process did not end by itself after the close');
      assert.is(exit!.status, 0, exit!.stderr);
      client = null;

      watch.stop();
      watch.scan();
      assert.ok(watch.scans > 10 && watch.sawClient > 0, `the argv watch saw the children (${watch.scans} scans, ${watch.sawClient})`);
      assert.equal(watch.hits, [], 'a credential in some argv');
      for (const o of outputs) {
        assert.not.ok(o.includes(GOOD) || o.includes(BAD), `a credential in a child's output: ${o}`);
      }
    } finally {
      watch.stop();
      if (client && client.exitCode === null && client.pid) client.kill('SIGKILL');
      if (local) {
        await removeDefinitions(local, [], [NET]).catch(() => undefined);
        await local.close().catch(() => undefined);
      }
      if (clientNs) spawnSync('ip', ['netns', 'del', CLIENT_NS]);
      if (daemon) await daemon.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    assert.equal(pgrep('libvirtd'), [], 'libvirtd still running');
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.not.ok(namespaces.includes(CLIENT_NS) || namespaces.includes(daemon!.ns!), 'a namespace left behind');
    assert.not.ok(fs.existsSync(tmp), 'the temporary directory left behind');
    assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${NET}.xml`), 'network definition left behind');
  },
  ['/usr/sbin/saslpasswd2', DIGEST_MD5],
);

test.run();
