/**
 * The request path's compiled code survives a full GC between batches (kernel tier: a real
 * socket in a throwaway namespace). V8 holds optimised code's object shapes weakly; without the
 * shape anchors (wire.ts shapeAnchors) and with records delivered as Buffers made in C++ (see
 * native/kernel/nlsock.cc), a full GC in an idle spell threw away the writer's, the request's
 * and the record reader's code, and the next batch waited for V8 to compile them again.
 */
import { spawnSync } from 'child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelTest, withNetns } from './helpers/kernel';

const t = test;

/** Run in a child with V8's natives (GetOptimizationStatus) and gc(): the statuses before and after three full GCs. */
function child(ns: string): { before: Record<string, boolean>; after: Record<string, boolean> } {
  const mod = (m: string) => JSON.stringify(require.resolve(`../src/rtnl/${m}`));
  const script = `
    const { Handle } = require(${mod('handle')});
    const { runBatch } = require(${mod('batch')});
    const { MessageWriter } = require(${mod('wire')});
    const R = require(${mod('request')});
    const S = require(${mod('socket')});
    const fns = {
      linkSet: R.linkSet,
      encode: R.LinkSetRequest.prototype.encode,
      ifinfomsg: MessageWriter.prototype.ifinfomsg,
      finish: MessageWriter.prototype.finish,
      readRecords: S.readRecords,
    };
    const optimised = () => Object.fromEntries(Object.entries(fns).map(([k, f]) => [k, (%GetOptimizationStatus(f) & 16) !== 0]));
    (async () => {
      const h = new Handle({ netns: ${JSON.stringify(ns)} });
      try {
        for (let round = 0; round < 12; round++) {
          const ops = Array.from({ length: 2000 }, () => ({ op: 'setLink', dev: 'lo', change: { up: true } }));
          const r = await runBatch(h, ops, { onError: 'stop' });
          if (r.failed) throw new Error('the batch failed: ' + r.results.find((x) => !x.ok).error.message);
          await new Promise((res) => setTimeout(res, 20)); // let V8's compiler threads finish
        }
        const before = optimised();
        for (let i = 0; i < 3; i++) {
          globalThis.gc();
          await new Promise((res) => setImmediate(res));
        }
        process.stdout.write(JSON.stringify({ before, after: optimised() }));
      } finally {
        h.close();
      }
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

kernelTest(t, 'what a batch of link changes compiled is still compiled after full GCs with no batch in flight', () =>
  withNetns((ns) => {
    const { before, after } = child(ns);
    const hot = Object.keys(before).filter((k) => before[k]);
    assert.ok(hot.length >= 3, `V8 optimised the request path (${JSON.stringify(before)})`);
    assert.equal(
      hot.filter((k) => !after[k]),
      [],
      'thrown away by the GCs',
    );
  }, 'shape'),
);

t.run();
