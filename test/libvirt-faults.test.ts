/**
 * Real tier, the faults that hit libvirt clients: libvirtd SIGKILLed while calls are in flight and
 * while an event subscription (and a lifecycleEvents() iterator) is live. Each call fails with a
 * typed error (libvirt's code for one on the wire, ECLOSED once the connection knows); the
 * connection emits 'close' (EOF); the iterator ends with ECLOSED; the sink references libvirt held
 * for the dead connection's callbacks are given back; once the daemon is back, reopen() works and
 * the subscription delivers again. The daemon is the test's own (helpers/libvirtd.ts), in a
 * throwaway namespace; nothing is left behind.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostwireError } from '../src/errors';
import { Connection, LibvirtError, type CloseEvent, type LifecycleEvent } from '../src/libvirt';
import { libvirtAddon } from '../src/native';
import { buildXml } from '../src/xml/parser';
import { SYSTEM_URI, pgrep, realTest, startLibvirtd } from './helpers/libvirtd';
import { removeDefinitions } from './helpers/vm';

const NET = `hwfault${process.pid}-net`;
const NET2 = `hwfault${process.pid}-net2`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const netXml = (name: string): string => buildXml({ network: { name, forward: { '@_mode': 'bridge' }, bridge: { '@_name': 'hwfbr0' } } });

/** p, or a rejection naming `what` after ms (the timer is cleared either way). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves on the first network event matching, on `c`. */
function networkEvent(c: Connection, name: string, event: string): Promise<LifecycleEvent> {
  return new Promise((resolve) => {
    const on = (e: LifecycleEvent): void => {
      if (e.kind !== 'network' || e.name !== name || e.event !== event) return;
      c.off('network-lifecycle', on);
      resolve(e);
    };
    c.on('network-lifecycle', on);
  });
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

realTest(
  test,
  'libvirtd SIGKILLed during calls and an event subscription: typed errors, the close event, reopen once it is back',
  async () => {
    const daemon = await startLibvirtd({ own: true });
    const refs0 = libvirtAddon().stats().libvirtRefs;
    let c: Connection | null = null;
    try {
      c = await Connection.open(SYSTEM_URI);
      const conn = c;
      // A subscription of the caller's (kept across reopen) and an iterator (ends with the connection).
      await conn.networkEventRegisterAny();
      const seen: LifecycleEvent[] = [];
      const iterated = (async () => {
        for await (const ev of conn.lifecycleEvents()) seen.push(ev);
      })().then(
        () => null,
        (e: unknown) => e,
      );
      const defined = networkEvent(conn, NET, 'DEFINED');
      const net = await conn.networkDefineXML(netXml(NET));
      await within(defined, 10_000, 'DEFINED before the kill');
      await net.undefine();
      net.free();
      await until('the iterator to see DEFINED', () => seen.some((e) => e.name === NET && e.event === 'DEFINED'));
      assert.ok(libvirtAddon().stats().libvirtRefs > refs0, 'the callbacks hold sink references');

      // Calls kept in flight (16 at a time) until the connection says it is closed.
      const closed = new Promise<CloseEvent>((resolve) => conn.once('close', resolve));
      const failures: unknown[] = [];
      let answered = 0;
      let stop = false;
      const pump = async (i: number): Promise<void> => {
        while (!stop) {
          try {
            await (i % 2 ? conn.listAllNetworks() : conn.getHostname());
            answered++;
          } catch (e) {
            failures.push(e);
            if (conn.closed) return;
          }
        }
      };
      const pumps = Array.from({ length: 16 }, (_, i) => pump(i));
      await until('calls to be answered', () => answered > 50);
      await daemon.killDaemon('SIGKILL');
      const ev = await within(closed, 15_000, 'close event after SIGKILL');
      stop = true;
      await within(Promise.all(pumps), 15_000, 'the calls in flight to settle');

      assert.ok(['EOF', 'ERROR'].includes(ev.reason), ev.reason);
      assert.is(conn.closed, true);
      assert.ok(failures.length > 0, 'no call was in flight when the daemon died');
      const codes = new Set<string>();
      for (const e of failures) {
        assert.instance(e, HostwireError, String(e));
        const code = (e as HostwireError).code;
        assert.match(code, /^(VIR_ERR_[A-Z_]+|ECLOSED)$/);
        if (code !== 'ECLOSED') assert.instance(e, LibvirtError);
        codes.add(code);
      }
      assert.ok(
        [...codes].some((x) => x.startsWith('VIR_ERR_')),
        `a call on the wire fails with libvirt's own code (${[...codes].join(', ')})`,
      );
      const ended = await within(iterated, 5000, 'the iterator to end');
      assert.is((ended as HostwireError | null)?.code, 'ECLOSED', String(ended));
      const after = await conn.getHostname().catch((e: HostwireError) => e.code);
      assert.is(after, 'ECLOSED');
      // The dead connection's callbacks gave their sink references back (deregistered on release).
      await until('the references of the dead connection to come back', () => libvirtAddon().stats().libvirtRefs === refs0);

      // The daemon is back: reopen() registers the caller's subscription again.
      await daemon.startDaemon();
      await conn.reopen();
      assert.is(await conn.isAlive(), true);
      const again = networkEvent(conn, NET2, 'DEFINED');
      const n2 = await conn.networkDefineXML(netXml(NET2));
      await within(again, 10_000, 'DEFINED after reopen');
      await n2.undefine();
      n2.free();
    } finally {
      if (c && !c.closed) {
        await removeDefinitions(c, [], [NET, NET2]).catch(() => undefined);
        await c.close().catch(() => undefined);
      }
      await daemon.stop();
    }
    await until('every sink reference to come back after close()', () => libvirtAddon().stats().libvirtRefs === refs0);
    assert.equal(pgrep('libvirtd'), [], 'libvirtd still running');
    assert.not.ok(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(daemon.ns!), 'namespace left behind');
    assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${NET}.xml`), 'network definition left behind');
    assert.not.ok(fs.existsSync(`/etc/libvirt/qemu/networks/${NET2}.xml`), 'network definition left behind');
  },
);

test.run();
