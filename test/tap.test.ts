/** Kernel tier: tun/tap devices through the addon, read back over rtnetlink and with ip. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Handle } from '../src/rtnl/handle';
import { runBatch, type BatchOp } from '../src/rtnl/batch';
import { fdCount, ipJson, kernelTest, withHandle, withNetns } from './helpers/kernel';

const t = suite('tap');

kernelTest(t, 'tap with owner, group, multi-queue, vnet_hdr, MTU and MAC: ip -d agrees on every flag', () =>
  withHandle(async (h, ns) => {
    const tap = await h.createTap('tap0', {
      owner: 1000,
      group: 1000,
      multiQueue: true,
      vnetHdr: true,
      mtu: 9000,
      address: '02:00:00:00:00:01',
    });
    assert.ok(tap.index > 0);
    const [x] = ipJson('-n', ns, '-d', 'link', 'show', 'tap0');
    const d = x.linkinfo.info_data;
    assert.is(x.linkinfo.info_kind, 'tun');
    assert.is(d.type, 'tap');
    assert.is(d.multi_queue, true);
    assert.is(d.vnet_hdr, true);
    assert.is(d.persist, true);
    assert.is(d.pi, false);
    assert.is(x.mtu, 9000);
    assert.is(x.address, '02:00:00:00:00:01');
    const l = await h.getLink('tap0');
    assert.is(l.kind, 'tun');
    assert.equal(l.info, {
      type: 'tap',
      pi: false,
      vnet_hdr: true,
      persist: true,
      multi_queue: true,
      num_queues: 0,
      num_disabled_queues: 0,
      owner: 1000,
      group: 1000,
    });
    assert.is(l.mtu, 9000);
    assert.is(l.address, '02:00:00:00:00:01');
    const tunDev = await h.createTap('tun0', { tun: true });
    assert.is((await h.getLink(tunDev.index)).info?.type, 'tun');
  }),
);

kernelTest(t, 'a taken name: EBUSY, and the existing device is untouched', () =>
  withHandle(async (h) => {
    await h.createTap('tap0', { owner: 1000, mtu: 1400 });
    await h.createBridge('br0');
    const before = await h.getLink('tap0');
    for (const name of ['tap0', 'br0']) {
      const e = await h.createTap(name, { multiQueue: true, mtu: 9000 }).catch((x) => x);
      assert.is(e.code, 'EBUSY', name);
      assert.is(e.syscall, 'ioctl(TUNSETIFF)');
    }
    assert.equal(await h.getLink('tap0'), before);
    assert.is((await h.getLink('br0')).kind, 'bridge');
  }),
);

kernelTest(t, 'queue fds are handed over with keepFds and closed by close()', () =>
  withHandle(async (h) => {
    await h.createTap('warm0'); // the handle's tun worker and its control socket now exist
    const before = fdCount();
    const tap = await h.createTap('mq0', { multiQueue: true, queues: 4, keepFds: true, persist: false });
    assert.is(tap.queues.length, 4);
    assert.is(fdCount(), before + 4);
    assert.is((await h.getLink('mq0')).info?.num_queues, 4);
    tap.queues.forEach((q) => q.close());
    assert.is(fdCount(), before);
    // Not persistent: closing the last queue removed the device.
    assert.is(
      await h.getLink('mq0').then(
        () => 'ok',
        (e) => e.code,
      ),
      'ENODEV',
    );
  }),
);

kernelTest(t, '200 taps made and deleted by batch leave nothing; 1,000 cycles leave no fd behind', () =>
  withHandle(async (h) => {
    const names = Array.from({ length: 200 }, (_, i) => `t${i}`);
    const made = await runBatch(
      h,
      names.map((name): BatchOp => ({ op: 'createTap', name })),
    );
    assert.is(made.failed, 0);
    assert.is((await h.listLinks({ kind: 'tun' })).length, 200);
    const gone = await runBatch(
      h,
      names.map((dev): BatchOp => ({ op: 'delete', dev })),
    );
    assert.is(gone.failed, 0);
    assert.is((await h.listLinks({ kind: 'tun' })).length, 0);
    const fds = fdCount();
    for (let i = 0; i < 1000; i++) {
      await h.createTap('cyc0');
      await h.deleteLink('cyc0');
    }
    assert.is(fdCount(), fds);
  }),
);

kernelTest(t, 'queue fds stay open until closed or taken: the collector never closes a number the caller may hold', () =>
  withHandle(async (h) => {
    const v8 = require('v8');
    const vm = require('vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    await h.createTap('warm0'); // the handle's tun worker and its control socket now exist
    const before = fdCount();
    const taken: number[] = [];
    await (async () => {
      const tap = await h.createTap('drop0', { multiQueue: true, queues: 3, keepFds: true });
      assert.is(tap.queues.length, 3);
      taken.push(tap.queues[0].fd); // as if passed to qemu, then the TapQueue dropped
    })();
    assert.is(fdCount(), before + 3);
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(fdCount(), before + 3, 'dropping TapQueues closes nothing');
    assert.match(require('fs').readlinkSync(`/proc/self/fd/${taken[0]}`), /tun/, 'the number handed out is still the tap queue');
    const tap = await h.createTap('own0', { multiQueue: true, queues: 2, keepFds: true });
    const fd = tap.queues[0].take();
    assert.is(tap.queues[0].fd, -1);
    assert.throws(() => tap.queues[0].take(), /already closed or taken/);
    tap.queues[0].close(); // a no-op once taken
    tap.queues[1].close();
    tap.queues[1].close(); // twice: once
    assert.match(require('fs').readlinkSync(`/proc/self/fd/${fd}`), /tun/, "a taken fd is the caller's, still open");
    require('fs').closeSync(fd);
    // Clean up what this test left open on purpose.
    for (const l of require('fs').readdirSync('/proc/self/fd')) {
      const n = Number(l);
      if (n >= 3 && !Number.isNaN(n) && fdCount() > before) {
        try {
          if (/tun/.test(require('fs').readlinkSync(`/proc/self/fd/${n}`))) require('fs').closeSync(n);
        } catch {
          // gone meanwhile
        }
      }
    }
    assert.is(fdCount(), before);
  }),
);

kernelTest(t, "closing a handle ends its socket's and its tun worker's threads and closes its fds", () =>
  withNetns(async (ns) => {
    const threads = () => require('fs').readdirSync('/proc/self/task').length;
    const fds = fdCount();
    const before = threads();
    const h = new Handle({ netns: ns });
    assert.is(threads(), before, "the socket's thread starts with its first send");
    await h.createTap('w0');
    await h.getLink('w0');
    assert.is(threads(), before + 2, "the socket's thread and the tun worker while the handle is open");
    const names = () =>
      require('fs')
        .readdirSync('/proc/self/task')
        .map((tid: string) => require('fs').readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    assert.ok(names().includes('hw-netlink') && names().includes('hw-tun'), 'the threads are named (ps -L, top -H)');
    const queued = h.createTap('w1');
    h.close();
    // Work under way when the handle closes is finished; work still queued fails with EBADF.
    assert.ok(
      ['ok', 'EBADF'].includes(
        await queued.then(
          () => 'ok',
          (e) => e.code,
        ),
      ),
      'it settles',
    );
    assert.is(threads(), before);
    assert.is(fdCount(), fds);
  }),
);

t.run();
