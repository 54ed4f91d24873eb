/**
 * Soak: mixed churn for M minutes in throwaway namespaces, as a host agent runs for months.
 *
 *   npm run soak -- --minutes M [--json FILE] [--taps N] [--no-libvirtd]
 *
 * Each round: a batch of taps created, attached and up, detached and deleted; veth pairs made
 * in one namespace, moved to the other and deleted there; addresses and routes added and
 * removed; while a Watcher consumes every link event and libvirt is called on test:///default
 * (and, when this run can start its own libvirtd, a NIC is hot-plugged into a running diskless
 * VM and unplugged). A line per minute: RSS, heap, fds, threads, event-loop delay p99,
 * operations, errors by code. The JSON holds minutes, ops, rss_mb_start, rss_mb_end (after the
 * warm-up), fds_start, fds_end, threads_start, threads_end, leftover_devices, unexpected_errors,
 * loop_delay_p99_ms. Targets over 30 minutes: RSS growth <= 10 MB after the warm-up, fds and
 * threads back to their start, no device left, no unexpected error, loop delay p99 <= 50 ms.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { monitorEventLoopDelay } from 'perf_hooks';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { Watcher } from '../src/rtnl/watch';
import { Connection } from '../src/libvirt';
import { attachInterface, detachInterface } from '../src/workflow/domain';
import { removeDefinitions, vmXml, waitFor } from '../test/helpers/vm';
import { startLibvirtd, type Libvirtd } from '../test/helpers/libvirtd';
import { option } from './args';

interface Args {
  minutes: number;
  json?: string;
  taps: number;
  libvirtd: boolean;
  warmup: number;
}

function args(argv: string[]): Args {
  const get = (k: string) => option(argv, k);
  const minutes = Number(get('--minutes') ?? '1');
  const taps = Number(get('--taps') ?? '200');
  if (!(minutes > 0) || !Number.isInteger(taps) || taps < 4)
    throw new Error('usage: soak --minutes M [--json FILE] [--taps N] [--no-libvirtd] [--warmup S]');
  return {
    minutes,
    json: get('--json'),
    taps,
    libvirtd: !argv.includes('--no-libvirtd'),
    warmup: Number(get('--warmup') ?? String(Math.min(60, minutes * 10))),
  };
}

const log = (s: string) => process.stderr.write(s + '\n');
const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const threadCount = () => fs.readdirSync('/proc/self/task').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Errors the soak provokes on purpose or expects of a busy host: not counted as unexpected. */
const EXPECTED = new Set<string>();

class Tally {
  ops = 0;
  errors = new Map<string, number>();
  unexpected = 0;
  count(e: unknown): void {
    const code = (e as { code?: string }).code ?? 'UNTYPED';
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    if (!EXPECTED.has(code)) {
      this.unexpected++;
      if (this.unexpected <= 5) log(`soak: unexpected ${code}: ${(e as Error).message}`);
    }
  }
  batch(r: Awaited<ReturnType<typeof runBatch>>): void {
    this.ops += r.results.length;
    for (const x of r.results) if (!x.ok) this.count(x.error);
  }
}

function ns(name: string, cmd: 'add' | 'del'): void {
  spawnSync('ip', ['netns', cmd, name]);
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  // Ctrl-C or SIGTERM ends the run early, and what it made is still removed (finally below).
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    log('soak: stopping: cleaning up');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const A = `hwsoakA${process.pid}`;
  const B = `hwsoakB${process.pid}`;
  ns(A, 'add');
  ns(B, 'add');
  const t = new Tally();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let virtd: Libvirtd | undefined;
  let real: Connection | undefined;
  const dom = `hwsoak${process.pid}`;
  const net = `hwsoaknet${process.pid}`;
  let watcher: Watcher | undefined;
  const handles: Handle[] = [];
  let libvirtNote = 'off (--no-libvirtd)';
  let result: Record<string, unknown> = {};
  try {
    const ha = new Handle({ netns: A });
    const hb = new Handle({ netns: B });
    handles.push(ha, hb);
    await ha.createBridge('sbr0', { stp: false });
    await ha.setLink('sbr0', { up: true });
    await ha.createBridge('sbr1', { stp: false });
    await ha.setLink('sbr1', { up: true });
    let events = 0;
    watcher = await Watcher.open({ netns: A, objects: ['link', 'addr', 'route'] });
    watcher.on('event', () => events++);
    const test = await Connection.open('test:///default');
    if (a.libvirtd) {
      try {
        virtd = await startLibvirtd();
        if (virtd.external) {
          libvirtNote = 'skipped: a libvirtd not started by this run is already running';
          virtd = undefined;
        } else {
          real = await Connection.open('qemu:///system');
          virtd.ip(['link', 'add', 'soakbr0', 'type', 'bridge']);
          virtd.ip(['link', 'set', 'soakbr0', 'up']);
          const n = await real.networkDefineXML(`<network><name>${net}</name><forward mode='bridge'/><bridge name='soakbr0'/></network>`);
          await n.create();
          n.free();
          const d = await real.domainDefineXML(vmXml(dom, net));
          await d.create();
          d.free();
          libvirtNote = `on: libvirtd in namespace ${virtd.ns}, NIC hot-plug and unplug on ${dom}`;
        }
      } catch (e) {
        libvirtNote = `skipped: could not start a libvirtd (${(e as Error).message.split('\n')[0]})`;
        await virtd?.stop().catch(() => undefined);
        virtd = undefined;
        real = undefined;
      }
    }
    log(`soak: ${a.minutes} min, ${a.taps} taps a round, warm-up ${a.warmup} s; real libvirtd ${libvirtNote}`);

    const names = Array.from({ length: a.taps }, (_, i) => `st${i}`);
    let round = 0;
    const oneRound = async () => {
      round++;
      const br = round % 2 ? 'sbr0' : 'sbr1';
      const phases: BatchOp[][] = [
        names.map((name) => ({ op: 'createTap', name })),
        names.map((dev) => ({ op: 'setLink', dev, change: { master: br, up: true } })),
        names.map((dev) => ({ op: 'setLink', dev, change: { master: null } })),
        names.map((dev) => ({ op: 'delete', dev })),
      ];
      for (const ops of phases) t.batch(await runBatch(ha, ops));
      // veths made in A, moved to B, deleted there.
      t.batch(
        await runBatch(ha, [
          { op: 'createVeth', name: 'sv0', peer: 'sp0' },
          { op: 'createVeth', name: 'sv1', peer: 'sp1' },
          { op: 'setLink', dev: 'sv0', change: { netns: B } },
          { op: 'setLink', dev: 'sv1', change: { netns: B } },
        ]),
      );
      t.batch(
        await runBatch(hb, [
          { op: 'delete', dev: 'sv0' },
          { op: 'delete', dev: 'sv1' },
        ]),
      );
      // Addresses and routes.
      const cidr = `10.${(round % 200) + 20}.0.1/24`;
      for (const step of [
        () => ha.addAddress('sbr0', cidr),
        () => ha.addRoute({ dst: `10.${(round % 200) + 20}.9.0/24`, gateway: `10.${(round % 200) + 20}.0.254` }),
        () => ha.listRoutes({ dev: 'sbr0' }),
        () => ha.deleteRoute({ dst: `10.${(round % 200) + 20}.9.0/24`, gateway: `10.${(round % 200) + 20}.0.254` }),
        () => ha.deleteAddress('sbr0', cidr),
        () => ha.listLinks(),
      ]) {
        t.ops++;
        await step().catch((e) => t.count(e));
      }
      // libvirt on test:///default.
      for (const step of [
        async () => (await test.domainLookupByName('test')).free(),
        async () => (await test.networkLookupByName('default')).free(),
        async () => {
          const n = await test.networkLookupByName('default');
          await n.getXMLDesc();
          n.free();
        },
      ]) {
        t.ops++;
        await step().catch((e) => t.count(e));
      }
      // A NIC hot-plugged into the running VM and unplugged, every few rounds.
      if (real && round % 3 === 0) {
        t.ops += 2;
        try {
          const { mac } = await attachInterface(real, dom, { network: net, model: 'virtio', live: true });
          await detachInterface(real, dom, { mac, live: true });
          const d = await real.domainLookupByName(dom);
          try {
            await waitFor(
              async () => (await d.getXMLDesc()).includes(mac),
              (has) => !has,
              'the NIC to go',
            );
          } finally {
            d.free();
          }
        } catch (e) {
          t.count(e);
        }
      }
    };

    // Warm-up, then the measured minutes.
    const warmEnd = Date.now() + a.warmup * 1000;
    while (Date.now() < warmEnd && !stopping) await oneRound();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    await sleep(100);
    const start = { rss: process.memoryUsage().rss, fds: fdCount(), threads: threadCount(), ops: t.ops };
    delay.enable();
    const end = Date.now() + a.minutes * 60_000;
    let minute = 0;
    let nextLine = Date.now() + 60_000;
    const p99s: number[] = [];
    while (Date.now() < end && !stopping) {
      await oneRound();
      if (Date.now() >= nextLine || Date.now() >= end) {
        minute++;
        nextLine += 60_000;
        const m = process.memoryUsage();
        const p99 = delay.percentile(99) / 1e6;
        p99s.push(p99);
        delay.reset();
        const errs = [...t.errors].map(([c, n]) => `${c}=${n}`).join(' ') || 'none';
        log(
          `soak: minute ${minute}: rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)} MB, fds ${fdCount()}, threads ${threadCount()}, loop p99 ${p99.toFixed(1)} ms, ops ${t.ops - start.ops}, events ${events}, errors ${errs}`,
        );
      }
    }
    delay.disable();
    gc?.();
    await sleep(200);
    const endState = { rss: process.memoryUsage().rss, fds: fdCount(), threads: threadCount() };
    // What the soak made and should have removed: every device but lo and the two bridges.
    const leftover =
      (await ha.listLinks()).filter((l) => !['lo', 'sbr0', 'sbr1'].includes(l.name)).length +
      (await hb.listLinks()).filter((l) => l.name !== 'lo').length;
    result = {
      minutes: a.minutes,
      ops: t.ops - start.ops,
      rounds: round,
      watcher_events: events,
      watcher_resyncs: watcher.resyncs,
      rss_mb_start: mb(start.rss),
      rss_mb_end: mb(endState.rss),
      fds_start: start.fds,
      fds_end: endState.fds,
      threads_start: start.threads,
      threads_end: endState.threads,
      leftover_devices: leftover,
      unexpected_errors: t.unexpected,
      errors: Object.fromEntries(t.errors),
      loop_delay_p99_ms: Math.max(0, ...p99s),
      libvirtd: libvirtNote,
    };
    await test.close();
  } finally {
    watcher?.close();
    for (const h of handles) h.close();
    if (real) {
      await removeDefinitions(real, [dom], [net]).catch(() => undefined);
      await real.close().catch(() => undefined);
    }
    await virtd?.stop().catch(() => undefined);
    ns(A, 'del');
    ns(B, 'del');
  }
  const out = JSON.stringify(result, null, 2);
  if (a.json) fs.writeFileSync(a.json, out + '\n');
  console.log(out);
  const r = result as {
    rss_mb_end: number;
    rss_mb_start: number;
    fds_end: number;
    fds_start: number;
    threads_end: number;
    threads_start: number;
  };
  log(
    `soak: targets: rss growth ${(r.rss_mb_end - r.rss_mb_start).toFixed(1)} MB (<= 10), fds ${r.fds_start} -> ${r.fds_end}, threads ${r.threads_start} -> ${r.threads_end}, leftover ${result.leftover_devices}, unexpected ${result.unexpected_errors}, loop p99 ${result.loop_delay_p99_ms} ms (<= 50)`,
  );
}

main().catch((e) => {
  console.error(`soak: ${(e as { code?: string }).code ?? 'ERROR'}: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
