/**
 * The addons' own argument checks (native/common/args.h), called directly with what TypeScript
 * would never pass: every bad argument is a TypeError with Node's code ERR_INVALID_ARG_TYPE,
 * thrown before anything reaches the kernel or libvirt, never a crash. No root needed: nothing
 * here gets past the checks. Every function and method the addons export must appear below
 * (or in NO_ARGUMENTS), so a new one cannot skip its checks unnoticed.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelAddon, libvirtAddon } from '../src/native';

type Case = [name: string, call: () => unknown];

function throwsTypeError(name: string, call: () => unknown): void {
  let thrown: unknown;
  try {
    call();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof TypeError, `${name}: expected a TypeError, got ${String(thrown)}`);
  assert.is((thrown as { code?: string }).code, 'ERR_INVALID_ARG_TYPE', `${name}: ${String(thrown)}`);
}

/** Methods that take no arguments: nothing to check. */
const NO_ARGUMENTS = new Set([
  'TunWorker.close',
  'NlSocket.close',
  'NlSocket.ref',
  'NlSocket.unref',
  'NlSocket.getRecvBufferSize',
  'stats',
  'NativeConnection.close',
  'NativeConnection.release',
  'NativeConnection.isAlive',
  'NativeConnection.getHostname',
  'NativeConnection.getURI',
  'NativeConnection.getType',
  'NativeConnection.getLibVersion',
  'NativeConnection.getVersion',
  ...['create', 'destroy', 'undefine', 'getAutostart', 'isActive', 'isPersistent', 'getBridgeName', 'free'].map(
    (m) => `NativeNetwork.${m}`,
  ),
  ...['isActive', 'isPersistent', 'getID', 'getState', 'free'].map((m) => `NativeDomain.${m}`),
]);

/** Everything an addon exports, as 'fn' and 'Class.method'. */
function surface(addon: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [name, v] of Object.entries(addon)) {
    if (typeof v !== 'function') continue;
    const methods = Object.getOwnPropertyNames(v.prototype ?? {}).filter((m) => m !== 'constructor');
    if (methods.length === 0) out.push(name);
    else
      for (const m of methods) if (typeof Object.getOwnPropertyDescriptor(v.prototype, m)?.value === 'function') out.push(`${name}.${m}`);
  }
  return out.sort();
}

function checkCovered(addon: Record<string, unknown>, cases: Case[], skip: (name: string) => boolean): void {
  const covered = new Set(cases.map(([name]) => name.split(' ')[0]));
  for (const name of surface(addon)) {
    if (skip(name)) continue;
    assert.ok(covered.has(name) || NO_ARGUMENTS.has(name), `${name} has no bad-argument case here`);
  }
}

test('kernel addon: wrong argument types are TypeErrors, never crashes', () => {
  const k = kernelAddon() as unknown as Record<string, any>;
  const worker = new k.TunWorker(null);
  const spec = { name: 'hwargs0', flags: 2 };
  try {
    const cases: Case[] = [
      ['netnsAdd dir', () => k.netnsAdd(1, '/run/netns/x')],
      ['netnsAdd file', () => k.netnsAdd('/run/netns', undefined)],
      ['netnsAdd NUL', () => k.netnsAdd('/run/netns', '/run/netns/a\0b')],
      ['netnsDel', () => k.netnsDel({})],
      ['netnsDel missing', () => k.netnsDel()],
      ['openInNetns nsPath', () => k.openInNetns(5, '/proc/sys/net/ipv4/ip_forward', 0)],
      ['openInNetns path', () => k.openInNetns(null, 5, 0)],
      ['openInNetns flags', () => k.openInNetns(null, '/proc/sys/net/ipv4/ip_forward', 'r')],
      ['openInNetns flags fraction', () => k.openInNetns(null, '/proc/sys/net/ipv4/ip_forward', 0.5)],
      ['openInNetns mode', () => k.openInNetns(null, '/proc/sys/net/ipv4/ip_forward', 0, '644')],
      ['preload path', () => k.preload(5)],
      ['preload NUL', () => k.preload('/x\0y')],
      ['exitNow code', () => k.exitNow('0')],
      ['exitNow fraction', () => k.exitNow(1.5)],
      ['TunWorker nsPath', () => new k.TunWorker(42)],
      ['TunWorker.create specs', () => worker.create('hwargs0')],
      ['TunWorker.create element', () => worker.create([5])],
      ['TunWorker.create name', () => worker.create([{ ...spec, name: 7 }])],
      ['TunWorker.create flags', () => worker.create([{ ...spec, flags: '2' }])],
      ['TunWorker.create owner', () => worker.create([{ ...spec, owner: -1 }])],
      ['TunWorker.create group', () => worker.create([{ ...spec, group: 'kvm' }])],
      ['TunWorker.create queues', () => worker.create([{ ...spec, queues: 2.5 }])],
      ['TunWorker.create mtu', () => worker.create([{ ...spec, mtu: '1500' }])],
      ['TunWorker.create keepFds', () => worker.create([{ ...spec, keepFds: 1 }])],
      ['TunWorker.create persist', () => worker.create([{ ...spec, persist: 'yes' }])],
      ['TunWorker.create mac', () => worker.create([{ ...spec, mac: '52:54:00:00:00:01' }])],
      ['TunWorker.create mac length', () => worker.create([{ ...spec, mac: Buffer.alloc(5) }])],
      ['TunWorker.create alias', () => worker.create([{ ...spec, alias: 7 }])],
      ['TunWorker.create second element', () => worker.create([spec, { ...spec, name: null }])],
    ];
    const sock = new k.NlSocket({}, () => undefined);
    try {
      cases.push(
        ['NlSocket options', () => new k.NlSocket(5, () => undefined)],
        ['NlSocket onRecords', () => new k.NlSocket({}, 'cb')],
        ['NlSocket options.netns', () => new k.NlSocket({ netns: 5 }, () => undefined)],
        ['NlSocket options.rcvbuf', () => new k.NlSocket({ rcvbuf: 'big' }, () => undefined)],
        ['NlSocket options.extAck', () => new k.NlSocket({ extAck: 1 }, () => undefined)],
        ['NlSocket options.inline', () => new k.NlSocket({ inline: 'yes' }, () => undefined)],
        ['NlSocket.send datagram', () => sock.send('bytes', 1)],
        ['NlSocket.send sendId', () => sock.send(Buffer.alloc(16), -1)],
        ['NlSocket.sendNow datagram', () => sock.sendNow([1, 2], 1)],
        ['NlSocket.sendNow sendId', () => sock.sendNow(Buffer.alloc(16), 'one')],
        ['NlSocket.addMembership', () => sock.addMembership('x')],
        ['NlSocket.dropMembership', () => sock.dropMembership(1.5)],
      );
      for (const [name, call] of cases) throwsTypeError(name, call);
      checkCovered(k, cases, () => false);
    } finally {
      sock.close();
    }
  } finally {
    worker.close();
  }
});

test('exitNow ends the process at once with its code: no exit listeners, no teardown; what was written stays written', () => {
  const script = `const k=require(${JSON.stringify(require.resolve('../src/native'))}).kernelAddon();
    process.on('exit', () => require('fs').writeSync(1, 'listener ran'));
    require('fs').writeSync(1, 'written;'); k.exitNow(7); require('fs').writeSync(1, 'after');`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
  assert.is(r.status, 7);
  assert.is(r.signal, null);
  assert.is(r.stdout, 'written;');
});

test('native.exitNow: _exit in a plain node, the kernel addon loaded by it (a libvirt command loads none before); process.exit where node writes something as it exits (a profile, coverage)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-exit-'));
  try {
    const script = `const n=require(${JSON.stringify(require.resolve('../src/native'))});
      process.on('exit', () => require('fs').writeSync(1, 'listener'));
      n.exitNow(5);`;
    const file = path.join(dir, 'exit.js'); // a file: node -e puts its code in execArgv
    fs.writeFileSync(file, script);
    const plain = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      timeout: 10000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    assert.is(plain.status, 5);
    assert.is(plain.stdout, '', 'no exit listener: _exit');
    const profiled = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, file], { encoding: 'utf8', timeout: 10000 });
    assert.is(profiled.status, 5);
    assert.is(profiled.stdout, 'listener', 'process.exit');
    assert.is(fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).length, 1, 'the profile was written');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("sendNow answers only on a socket opened inline, with the kernel's reply and its drained record", () => {
  const k = kernelAddon();
  const getLo = Buffer.alloc(32);
  getLo.writeUInt32LE(32, 0);
  getLo.writeUInt16LE(18 /* RTM_GETLINK */, 4);
  getLo.writeUInt16LE(1 | 4 /* NLM_F_REQUEST | NLM_F_ACK */, 6);
  getLo.writeUInt32LE(77, 8);
  getLo.writeInt32LE(1, 20); // ifi_index 1: lo, in every namespace
  const plain = new k.NlSocket({}, () => undefined);
  const inline = new k.NlSocket({ inline: true }, () => undefined);
  try {
    assert.is(plain.sendNow(getLo, 1), undefined, 'not inline: nothing sent');
    const answer = inline.sendNow(getLo, 9);
    assert.ok(answer instanceof ArrayBuffer, 'an ArrayBuffer: JS makes the Buffer that views it (nlsock.cc says why)');
    const recs = Buffer.from(answer);
    const kinds: number[] = [];
    const types: number[] = [];
    for (let off = 0; off + 12 <= recs.length; off += 12 + ((recs.readUInt32LE(off + 8) + 3) & ~3)) {
      kinds.push(recs.readUInt32LE(off));
      if (recs.readUInt32LE(off) === 1) types.push(recs.readUInt16LE(off + 12 + 4));
      if (recs.readUInt32LE(off) === 3) assert.is(recs.readUInt32LE(off + 4), 9, 'drained names the send');
    }
    assert.equal(kinds.slice(-1), [3], 'ends with its drained record');
    assert.equal(types, [16, 2], 'RTM_NEWLINK of lo, then the ack');
  } finally {
    plain.close();
    inline.close();
  }
});

test('libvirt addon: wrong argument types are TypeErrors, never crashes', async () => {
  const L = libvirtAddon() as unknown as Record<string, any>;
  const emit = (): void => {};
  const cases: Case[] = [
    ['open uri', () => L.open(5, false, emit, null)],
    ['open uri NUL', () => L.open('test:///default\0', false, emit, null)],
    ['open readonly', () => L.open('test:///default', 'yes', emit, null)],
    ['open emit', () => L.open('test:///default', false, 'emit', null)],
    ['open auth', () => L.open('test:///default', false, emit, 'secret')],
    ['open auth.username', () => L.open('test:///default', false, emit, { username: 5 })],
    ['open auth.password', () => L.open('test:///default', false, emit, { password: ['x'] })],
  ];
  const c = await L.open('test:///default', false, emit, null);
  try {
    const net = await c.networkLookupByName('default');
    const dom = await c.domainLookupByName('test');
    cases.push(
      ['NativeConnection.setKeepAlive interval', () => c.setKeepAlive(-5, 3)],
      ['NativeConnection.setKeepAlive count', () => c.setKeepAlive(5)],
      ['NativeConnection.listAllNetworks', () => c.listAllNetworks('all')],
      ['NativeConnection.listAllDomains', () => c.listAllDomains(2 ** 32)],
      ['NativeConnection.networkLookupByName', () => c.networkLookupByName(null)],
      ['NativeConnection.networkLookupByUUIDString', () => c.networkLookupByUUIDString(1)],
      ['NativeConnection.networkDefineXML', () => c.networkDefineXML({})],
      ['NativeConnection.domainLookupByName', () => c.domainLookupByName(undefined)],
      ['NativeConnection.domainLookupByUUIDString', () => c.domainLookupByUUIDString([])],
      ['NativeConnection.domainLookupByID', () => c.domainLookupByID(1.5)],
      ['NativeConnection.domainDefineXML xml', () => c.domainDefineXML(1, 0)],
      ['NativeConnection.domainDefineXML flags', () => c.domainDefineXML('<domain/>', '0')],
      ['NativeConnection.subscribe kind', () => c.subscribe(0, 0)],
      ['NativeConnection.subscribe eventID', () => c.subscribe('domain', 'lifecycle')],
      // An id without a callback of the right signature here would crash when libvirt calls it.
      ['NativeConnection.subscribe unsupported domain eventID', () => c.subscribe('domain', 7)],
      ['NativeConnection.subscribe unsupported network eventID', () => c.subscribe('network', 1)],
      ['NativeConnection.unsubscribe', () => c.unsubscribe('1')],
      ['NativeNetwork.setAutostart', () => net.setAutostart(1)],
      ['NativeNetwork.getXMLDesc', () => net.getXMLDesc(true)],
      ['NativeDomain.create', () => dom.create(-1)],
      ['NativeDomain.shutdown', () => dom.shutdown('acpi')],
      ['NativeDomain.destroy', () => dom.destroy(null)],
      ['NativeDomain.undefine', () => dom.undefine(NaN)],
      ['NativeDomain.getXMLDesc', () => dom.getXMLDesc({})],
      ['NativeDomain.attachDevice xml', () => dom.attachDevice(null, 0)],
      ['NativeDomain.attachDevice flags', () => dom.attachDevice('<interface/>')],
      ['NativeDomain.detachDevice xml', () => dom.detachDevice(Buffer.from('<interface/>'), 0)],
      ['NativeDomain.detachDevice flags', () => dom.detachDevice('<interface/>', -1)],
    );
    for (const [name, call] of cases) throwsTypeError(name, call);
    checkCovered(L, cases, () => false);
    // Still usable afterwards: nothing was left half-done.
    assert.is((await c.listAllDomains(0)).length > 0, true);
    net.free();
    dom.free();
  } finally {
    await c.close();
  }
});

test.run();
