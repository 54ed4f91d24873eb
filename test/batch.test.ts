/** Kernel tier: the batch API's semantics (results, partial failure, stop, rollback). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { ip, ipJson, kernelTest, withHandle, withNetns } from './helpers/kernel';

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

kernelTest(t, 'ENOBUFS in the middle of a batch: every result says exactly what the kernel did', () =>
  withNetns(async (ns) => {
    const names = Array.from({ length: 1500 }, (_, i) => `nb${i}`);
    const prep = new Handle({ netns: ns });
    try {
      assert.is(
        (
          await runBatch(
            prep,
            names.map((name): BatchOp => ({ op: 'createTap', name })),
          )
        ).failed,
        0,
      );
    } finally {
      prep.close();
    }
    // A window far beyond what a 4 KiB receive buffer holds: replies are dropped mid-batch.
    const h = new Handle({ netns: ns, window: 5000, rcvbuf: 4096 });
    try {
      let overflows = 0;
      h.socket.on('error', (e) => (overflows += (e as any).code === 'ENOBUFS' ? 1 : 0));
      const ops: BatchOp[] = names.map((dev, i) => ({ op: 'setLink', dev, change: i % 2 ? { up: true } : { mtu: 1400 } }));
      const r = await runBatch(h, ops);
      assert.ok(overflows > 0, 'the kernel dropped replies');
      const links = new Map(ipJson('-n', ns, 'link', 'show').map((l: { ifname: string; flags: string[]; mtu: number }) => [l.ifname, l]));
      r.results.forEach((res, i) => {
        const l = links.get(names[i]) as { flags: string[]; mtu: number };
        const inEffect = i % 2 ? l.flags.includes('UP') : l.mtu === 1400;
        assert.is(res.ok, inEffect, `${names[i]}: ok exactly when the change is in effect`);
        if (!res.ok) assert.is((res.error as any).code, 'ENOBUFS');
      });
    } finally {
      h.close();
    }
  }),
);

kernelTest(t, 'createLink of kind tun: the tap, then its master, up and alias in one RTM_SETLINK sharing its result', () =>
  withHandle(async (h, ns) => {
    const r = await runBatch(h, [
      { op: 'createLink', name: 'kb0', kind: 'bridge', options: { up: true } },
      { op: 'createLink', name: 'kt0', kind: 'tun', options: { vnetHdr: true, master: 'kb0', up: true, alias: 'made here' } },
      { op: 'createLink', name: 'kt1', kind: 'tun', options: { master: 'nobr0' } },
      { op: 'createLink', name: 'kt2', kind: 'tun', options: { up: true } },
    ]);
    assert.equal(codes(r), ['ok', 'ok', 'ENODEV', 'ok']);
    const [t0] = ipJson('-n', ns, '-d', 'link', 'show', 'kt0');
    assert.equal([t0.master, t0.flags.includes('UP'), t0.ifalias, t0.linkinfo.info_data.vnet_hdr], ['kb0', true, 'made here', true]);
    assert.ok(ipJson('-n', ns, 'link', 'show', 'kt1').length === 1, 'without rollback the tap stays');
  }),
);

kernelTest(t, 'an alias given to a create is set (the kernel ignores IFLA_IFALIAS in RTM_NEWLINK), by the batch and by the verbs', () =>
  withHandle(async (h, ns) => {
    const r = await runBatch(h, [
      { op: 'createLink', name: 'ab0', kind: 'bridge', options: { alias: 'one' } },
      { op: 'createVeth', name: 'av0', peer: 'av1', options: { alias: 'two' } as object },
      { op: 'createLink', name: 'ab0', kind: 'bridge', options: { alias: 'not mine' } },
    ]);
    assert.equal(codes(r), ['ok', 'ok', 'EEXIST']);
    await h.createBridge('ab1', { alias: 'three' } as object);
    const alias = (n: string) => ipJson('-n', ns, 'link', 'show', n)[0].ifalias;
    assert.equal(['ab0', 'av0', 'ab1'].map(alias), ['one', 'two', 'three'], 'the existing ab0 keeps its alias');
  }),
);

kernelTest(t, 'addresses, routes and kind options in a batch; rollback undoes them, and a delete by its restore operations', () =>
  withHandle(async (h, ns) => {
    ip('-n', ns, 'link', 'add', 'rb0', 'type', 'bridge', 'stp_state', '0');
    ip('-n', ns, 'link', 'set', 'rb0', 'up');
    ip('-n', ns, 'addr', 'add', '10.7.0.1/24', 'dev', 'rb0');
    ip('-n', ns, 'route', 'add', '10.8.0.0/16', 'via', '10.7.0.254');
    ip('-n', ns, 'link', 'add', 'gone0', 'mtu', '1400', 'type', 'bridge');
    ip('-n', ns, 'addr', 'add', '10.9.0.1/24', 'dev', 'gone0');
    const snapshot = () => [
      ipJson('-n', ns, '-d', 'link', 'show').map((l: any) => [
        l.ifname,
        l.address,
        l.mtu,
        l.master,
        l.flags.includes('UP'),
        l.linkinfo?.info_data?.priority,
        l.linkinfo?.info_data?.ageing_time,
      ]),
      ipJson('-n', ns, 'addr', 'show').map((l: any) => [l.ifname, l.addr_info.map((a: any) => a.local)]),
      // A bridge without ports loses its carrier when its STP settings change: routes show 'linkdown'.
      ip('-n', ns, 'route', 'show').replace(/ linkdown/g, ''),
    ];
    const before = snapshot();
    const [gone] = ipJson('-n', ns, 'link', 'show', 'gone0');
    const restore: BatchOp[] = [
      { op: 'createLink', name: 'gone0', kind: 'bridge', options: { mtu: 1400, address: gone.address } },
      { op: 'addAddress', dev: 'gone0', address: '10.9.0.1/24' },
    ];
    const ops: BatchOp[] = [
      { op: 'deleteRoute', route: { dst: '10.8.0.0/16', gateway: '10.7.0.254', dev: 'rb0', protocol: 3, scope: 0, type: 1 } },
      { op: 'deleteAddress', dev: 'rb0', address: '10.7.0.1/24' },
      { op: 'addAddress', dev: 'rb0', address: '10.7.1.1/24' },
      { op: 'addRoute', route: { dst: '10.6.0.0/16', gateway: '10.7.1.254', dev: 'rb0' } },
      { op: 'setType', dev: 'rb0', kind: 'bridge', options: { priority: 100, ageingTime: 1000 } },
      { op: 'setLink', dev: 'rb0', change: { mtu: 1300 }, revert: { mtu: 1500 } },
      { op: 'delete', dev: 'gone0', restore },
      { op: 'setLink', dev: 'rb0', change: { master: 'nobr0' } },
    ];
    assert.is(
      await runBatch(h, [{ op: 'delete', dev: 'gone0' }], { rollback: true }).then((x) => (x.results[0] as any).error.code),
      'EINVALIDOP',
      'a delete without restore cannot be rolled back',
    );
    const r = await runBatch(h, ops, { onError: 'stop', rollback: true });
    assert.equal(codes(r), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ENODEV']);
    assert.ok(r.rolledBack);
    assert.equal(r.rollbackErrors, []);
    assert.equal(snapshot(), before);
  }),
);

t.run();
