/**
 * The libvirt verbs of `hostwire` against test:///default, compared with virsh where virsh
 * prints the same thing. Runs the real command (dist/src/cli/main.js) as a child process, and
 * the event verb in-process (the test driver's events stay within one process).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verbs as virtVerbs } from '../src/cli/verbs';
import { formatTable } from '../src/cli/virsh';
import type { CliContext } from '../src/cli/context';
import { Connection } from '../src/libvirt';
import { buildXml } from '../src/xml/parser';

const MAIN = path.resolve(__dirname, '../src/cli/main.js');
const URI = 'test:///default';

function hostwire(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function virsh(...args: string[]): string {
  const r = spawnSync('virsh', ['-c', URI, ...args], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
}

function ctxCapture(json = false): { ctx: CliContext; lines: string[] } {
  const lines: string[] = [];
  return { ctx: { json, uri: URI, out: (t) => lines.push(t) }, lines };
}

test('formatTable lays out columns as vshTable does', () => {
  assert.is(formatTable(['Id', 'Name', 'State'], []), ' Id   Name   State\n--------------------\n\n');
  assert.is(
    formatTable(['Id', 'Name', 'State'], [['-', 'test', 'shut off']]),
    ' Id   Name   State\n-----------------------\n -    test   shut off\n\n',
  );
});

test('net list --all prints what virsh net-list --all prints', () => {
  const r = hostwire('--uri', URI, 'net', 'list', '--all');
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, virsh('net-list', '--all'));
  assert.match(r.stdout, /^ default {3}active {3}no {10}yes$/m);
  assert.is(hostwire('--uri', URI, 'net', 'list').stdout, virsh('net-list'));
});

test('net list --all --json gives name, active, autostart, persistent, bridge with booleans', () => {
  for (const argv of [
    ['--uri', URI, '--json', 'net', 'list', '--all'],
    ['--uri', URI, 'net', 'list', '--all', '--json'],
  ]) {
    const r = hostwire(...argv);
    assert.is(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    const def = rows.find((x) => x.name === 'default')!;
    assert.ok(def);
    assert.is(def.active, true);
    assert.is(def.autostart, false);
    assert.is(def.persistent, true);
    assert.is(def.bridge, 'virbr0');
  }
});

test("net info prints what virsh net-info prints; domain iflist has domiflist's columns, then the kernel's Master", () => {
  assert.is(hostwire('--uri', URI, 'net', 'info', 'default').stdout, virsh('net-info', 'default'));
  const words = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.trim() && !/^-+$/.test(l.trim()))
      .map((l) => l.trim().split(/\s+/));
  const ours = words(hostwire('--uri', URI, 'domain', 'iflist', 'test').stdout);
  const theirs = words(virsh('domiflist', 'test'));
  assert.is(ours.length, theirs.length);
  theirs.forEach((row, i) => assert.equal(ours[i].slice(0, row.length), row));
  assert.is(ours[0][theirs[0].length], 'Master');
  const ifs = JSON.parse(hostwire('--uri', URI, '--json', 'domain', 'iflist', 'test').stdout);
  assert.is(ifs[0].mac, 'aa:bb:cc:dd:ee:ff');
  assert.is(ifs[0].target, 'testnet0');
});

test('domain list --all --json shows test running; domain list matches virsh list', () => {
  const r = hostwire('--uri', URI, '--json', 'domain', 'list', '--all');
  assert.is(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
  const t = rows.find((x) => x.name === 'test')!;
  assert.is(t.state, 'running');
  assert.is(t.id, 1);
  assert.is(t.persistent, true);
  assert.is(hostwire('--uri', URI, 'domain', 'list', '--all').stdout, virsh('list', '--all'));
});

test('errors: domain dumpxml no-such -> VIR_ERR_NO_DOMAIN; net start no-such -> VIR_ERR_NO_NETWORK', () => {
  const a = hostwire('--uri', URI, 'domain', 'dumpxml', 'no-such');
  assert.is.not(a.status, 0);
  assert.match(a.stderr, /^hostwire: VIR_ERR_NO_DOMAIN: /);
  const b = hostwire('--uri', URI, '--json', 'net', 'start', 'no-such');
  assert.is.not(b.status, 0);
  assert.is(JSON.parse(b.stderr).code, 'VIR_ERR_NO_NETWORK');
  const c = hostwire('--uri', URI, 'net', 'start', 'bad/name');
  assert.is.not(c.status, 0);
  assert.match(c.stderr, /EINVALIDNAME/);
  const d = hostwire('--uri', URI, 'net', 'frob');
  assert.is.not(d.status, 0);
  assert.match(d.stderr, /EUSAGE/);
});

test('dumpxml prints the XML; --inactive reaches libvirt', () => {
  const r = hostwire('--uri', URI, 'domain', 'dumpxml', 'test');
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, virsh('dumpxml', 'test'));
  assert.is(hostwire('--uri', URI, 'net', 'dumpxml', 'default').stdout, virsh('net-dumpxml', 'default'));
});

test('in one process: net define/start/autostart/destroy/undefine and domain define/start/shutdown/destroy/undefine', async () => {
  // test:///default keeps its state per process, so this runs the verbs in-process.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hwvirt-'));
  const net = `hwcli-net-${process.pid}`;
  const dom = `hwcli-dom-${process.pid}`;
  const { ctx, lines } = ctxCapture();
  // test:///default drops what was defined when its last connection closes: hold one open.
  const holder = await Connection.open(URI);
  try {
    const netFile = path.join(dir, 'net.xml');
    fs.writeFileSync(netFile, buildXml({ network: { name: net, forward: { '@_mode': 'bridge' }, bridge: { '@_name': 'hwclibr0' } } }));
    const domFile = path.join(dir, 'dom.xml');
    fs.writeFileSync(
      domFile,
      buildXml({ domain: { '@_type': 'test', name: dom, memory: { '@_unit': 'MiB', '#text': '64' }, os: { type: 'hvm' } } }),
    );
    assert.is(await virtVerbs.net(ctx, ['define', netFile]), 0);
    assert.is(await virtVerbs.net(ctx, ['start', net]), 0);
    assert.is(await virtVerbs.net(ctx, ['autostart', net]), 0);
    assert.is(await virtVerbs.net(ctx, ['autostart', net, '--disable']), 0);
    assert.is(await virtVerbs.net(ctx, ['destroy', net]), 0);
    assert.is(await virtVerbs.net(ctx, ['undefine', net]), 0);
    assert.is(await virtVerbs.domain(ctx, ['define', domFile]), 0);
    assert.is(await virtVerbs.domain(ctx, ['start', dom]), 0);
    assert.is(await virtVerbs.domain(ctx, ['shutdown', dom]), 0);
    assert.is(await virtVerbs.domain(ctx, ['start', dom]), 0);
    assert.is(await virtVerbs.domain(ctx, ['destroy', dom]), 0);
    assert.is(await virtVerbs.domain(ctx, ['undefine', dom]), 0);
    assert.equal(
      lines.map((l) => l.trim()),
      [
        `Network ${net} defined from ${netFile}`,
        `Network ${net} started`,
        `Network ${net} marked as autostarted`,
        `Network ${net} unmarked as autostarted`,
        `Network ${net} destroyed`,
        `Network ${net} has been undefined`,
        `Domain '${dom}' defined from ${domFile}`,
        `Domain '${dom}' started`,
        `Domain '${dom}' is being shutdown`,
        `Domain '${dom}' started`,
        `Domain '${dom}' destroyed`,
        `Domain '${dom}' has been undefined`,
      ],
    );
  } finally {
    const c = await Connection.open(URI);
    for (const d of await c.listAllDomains()) {
      if (d.name !== dom) continue;
      const h = await c.domainLookupByName(dom);
      await h.destroy().catch(() => undefined);
      await h.undefine().catch(() => undefined);
    }
    for (const n of await c.listAllNetworks()) {
      if (n.name !== net) continue;
      const h = await c.networkLookupByName(net);
      await h.destroy().catch(() => undefined);
      await h.undefine().catch(() => undefined);
    }
    await c.close();
    await holder.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('event --timeout prints lifecycle events as they come, then exits 0', async () => {
  const { ctx, lines } = ctxCapture();
  const json = ctxCapture(true);
  const c = await Connection.open(URI);
  try {
    const running = virtVerbs.event(ctx, ['--timeout', '1.5']);
    const runningJson = virtVerbs.event(json.ctx, ['--timeout', '1.5']);
    await new Promise((r) => setTimeout(r, 300)); // let both subscribe
    const d = await c.domainLookupByName('test');
    await d.destroy();
    await d.create();
    d.free();
    assert.is(await running, 0);
    assert.is(await runningJson, 0);
    assert.equal(lines, ["event 'lifecycle' for domain 'test': Stopped Destroyed", "event 'lifecycle' for domain 'test': Started Booted"]);
    assert.equal(
      json.lines.map((l) => JSON.parse(l).event),
      ['STOPPED', 'STARTED'],
    );
  } finally {
    await c.close();
  }
});

test.run();
