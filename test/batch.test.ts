/** Kernel tier: the batch API's semantics (results, partial failure, stop, rollback). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { ip, ipJson, kernelTest, withHandle } from './helpers/kernel';

const t = suite('batch');
const codes = (r: Awaited<ReturnType<typeof runBatch>>) => r.results.map((x) => (x.ok ? 'ok' : (x.error as any).code));

kernelTest(t, 'one result per operation; a failure does not stop the rest by default', () =>
  withHandle(async (h) => {
    const ops: BatchOp[] = [
      { op: 'createBridge', name: 'br0' },
      { op: 'createTap', name: 'tp0' },
      { op: 'createTap', name: 'tp1' },
      { op: 'setLink', dev: 'tp0', change: { master: 'br0', up: true } },
      { op: 'setLink', dev: 'tp1', change: { master: 'nobr' } },
      { op: 'createBridge', name: 'br0' },
      { op: 'setLink', dev: 'tp1', change: { master: 'br0' } },
    ];
    const r = await runBatch(h, ops);
    assert.equal(codes(r), ['ok', 'ok', 'ok', 'ok', 'ENODEV', 'EEXIST', 'ok']);
    assert.is(r.failed, 2);
    assert.ok((r.results[1] as any).index > 0, 'taps report their index');
    assert.equal((await h.listLinks({ master: 'br0' })).map((l) => l.name).sort(), ['tp0', 'tp1']);
  }),
);

kernelTest(t, 'indexes: each creation reports the ifindex the kernel gave it; a failed one none', () =>
  withHandle(async (h, ns) => {
    const ops: BatchOp[] = [
      { op: 'createBridge', name: 'xb0' },
      { op: 'createVeth', name: 'xv0', peer: 'xp0' },
      { op: 'createTap', name: 'xt0' },
      { op: 'createBridge', name: 'xb0' },
      { op: 'setLink', dev: 'xv0', change: { master: 'xb0' } },
    ];
    const r = await runBatch(h, ops, { indexes: true });
    assert.equal(codes(r), ['ok', 'ok', 'ok', 'EEXIST', 'ok']);
    const ix = (name: string) => ipJson('-n', ns, 'link', 'show', name)[0].ifindex;
    assert.equal(
      r.results.map((x) => (x.ok ? x.index : 'failed')),
      [ix('xb0'), ix('xv0'), ix('xt0'), 'failed', undefined],
    );
  }),
);

kernelTest(t, "onError 'stop': what was not yet sent is skipped", () =>
  withHandle(async (h) => {
    const r = await runBatch(
      h,
      [
        { op: 'createTap', name: 's0' },
        { op: 'setLink', dev: 's0', change: { master: 'nobr' } },
        { op: 'createTap', name: 's1' },
      ],
      { onError: 'stop' },
    );
    assert.equal(codes(r), ['ok', 'ENODEV', 'ESKIPPED']);
    assert.is(
      await h.getLink('s1').then(
        () => 'ok',
        (e) => e.code,
      ),
      'ENODEV',
    );
  }),
);

kernelTest(
  t,
  "onError 'stop': a failure that only the kernel's answer reveals still stops what waits behind it (taps, a name to resolve)",
  () =>
    withHandle(async (h) => {
      await h.createBridge('sb0');
      await h.createBridge('sb1');
      const r = await runBatch(
        h,
        [
          { op: 'setLink', dev: 'nope', change: { up: true } },
          { op: 'createTap', name: 'st0' },
          { op: 'setLink', dev: 'sb0', change: { master: 'sb1' } },
        ],
        { onError: 'stop' },
      );
      assert.equal(codes(r), ['ENODEV', 'ESKIPPED', 'ESKIPPED']);
      assert.equal((await h.listLinks()).map((l) => l.name).sort(), ['lo', 'sb0', 'sb1']);
      assert.is((await h.getLink('sb0')).master, null);
    }),
);

kernelTest(t, 'rollback undoes creations and changes, newest first', () =>
  withHandle(async (h) => {
    await h.createBridge('keep0');
    await h.createTap('old0', { mtu: 1400 });
    const before = (await h.listLinks()).map((l) => l.name).sort();
    const r = await runBatch(
      h,
      [
        { op: 'createBridge', name: 'nb0' },
        { op: 'createTap', name: 'nt0' },
        { op: 'setLink', dev: 'nt0', change: { master: 'nb0' } },
        { op: 'setLink', dev: 'old0', change: { mtu: 9000, master: 'keep0', up: true } },
        { op: 'createTap', name: 'keep0' },
      ],
      { rollback: true },
    );
    assert.equal(codes(r), ['ok', 'ok', 'ok', 'ok', 'EBUSY']);
    assert.ok(r.rolledBack);
    assert.equal(r.rollbackErrors, []);
    assert.equal((await h.listLinks()).map((l) => l.name).sort(), before);
    const old = await h.getLink('old0');
    assert.is(old.mtu, 1400);
    assert.is(old.master, null);
    assert.not.ok(old.up);
  }),
);

kernelTest(t, 'operations on one link keep their order on the wire', () =>
  withHandle(async (h) => {
    const ops: BatchOp[] = [{ op: 'createBridge', name: 'br0' }];
    for (let i = 0; i < 50; i++)
      ops.push(
        { op: 'createTap', name: `o${i}` },
        { op: 'setLink', dev: `o${i}`, change: { master: 'br0', up: true } },
        { op: 'setLink', dev: `o${i}`, change: { master: null, mtu: 1400 } },
      );
    const r = await runBatch(h, ops);
    assert.is(r.failed, 0, codes(r).join());
    const taps = await h.listLinks({ kind: 'tun' });
    assert.ok(taps.every((l) => l.master === null && l.up && l.mtu === 1400));
  }),
);

kernelTest(t, 'group delete removes exactly the devices named, never others in the same group', () =>
  withHandle(async (h, ns) => {
    const ops: BatchOp[] = [{ op: 'createBridge', name: 'keepbr' }];
    for (let i = 0; i < 40; i++) ops.push({ op: 'createTap', name: `d${i}` });
    for (let i = 0; i < 5; i++) ops.push({ op: 'createTap', name: `keep${i}` });
    assert.is((await runBatch(h, ops)).failed, 0);
    // Everything, named or not, starts in the same group.
    for (const l of await h.listLinks()) if (l.name !== 'lo') ip('-n', ns, 'link', 'set', l.name, 'group', '42');
    const del: BatchOp[] = Array.from({ length: 40 }, (_, i) => ({ op: 'delete', dev: `d${i}` }));
    del.splice(20, 0, { op: 'delete', dev: 'nosuch0' });
    const r = await runBatch(h, del);
    assert.equal(
      codes(r).filter((c) => c !== 'ok'),
      ['ENODEV'],
    );
    assert.is(codes(r)[20], 'ENODEV');
    const left = (await h.listLinks()).map((l) => l.name).sort();
    assert.equal(left, ['keep0', 'keep1', 'keep2', 'keep3', 'keep4', 'keepbr', 'lo']);
    assert.ok(
      (await h.listLinks()).filter((l) => l.name !== 'lo').every((l) => l.group === 42),
      'the others keep their group',
    );
  }),
);

kernelTest(t, "an invalid operation anywhere, with onError 'stop', creates nothing in the kernel", () =>
  withHandle(async (h, ns) => {
    const before = ip('-n', ns, '-br', 'link', 'show');
    const a = await runBatch(
      h,
      [
        { op: 'createBridge', name: 'ok0' },
        { op: 'createBridge', name: 'bad0', options: { priority: 70000 } },
      ],
      { onError: 'stop' },
    );
    assert.equal(codes(a), ['ESKIPPED', 'EINVALIDOPTION']);
    const b = await runBatch(
      h,
      [
        { op: 'createBridge', name: 'ok1' },
        { op: 'createTap', name: 'tp0' },
        { op: 'setLink', dev: 'lo', change: { mtu: 1500 } },
        { op: 'createVeth', name: 'v0', peer: 'p0', options: { mtu: 5 } },
      ],
      { onError: 'stop' },
    );
    assert.equal(codes(b), ['ESKIPPED', 'ESKIPPED', 'ESKIPPED', 'EINVALIDMTU']);
    assert.is(ip('-n', ns, '-br', 'link', 'show'), before, 'nothing made or changed');
  }),
);

kernelTest(t, 'renames, moves to another namespace and masters by name in one batch keep call order', () =>
  withHandle(async (h, ns) => {
    const r = await runBatch(h, [
      { op: 'createBridge', name: 'rb0' },
      { op: 'createVeth', name: 'rv0', peer: 'rp0' },
      { op: 'setLink', dev: 'rv0', change: { name: 'rv1' } },
      { op: 'setLink', dev: 'rv1', change: { master: 'rb0', up: true } },
      { op: 'createLink', name: 'rv2', kind: 'veth', options: { peer: 'rp2', master: 'rb0', mtu: 1400 } },
    ]);
    assert.equal(codes(r), ['ok', 'ok', 'ok', 'ok', 'ok']);
    const ports = ipJson('-n', ns, 'link', 'show', 'master', 'rb0')
      .map((l: { ifname: string }) => l.ifname)
      .sort();
    assert.equal(ports, ['rv1', 'rv2']);
  }),
);

t.run();
