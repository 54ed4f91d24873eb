/** The socket layer with a fake transport: window, ordering, dumps, ENOBUFS. No root. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetlinkSocket, type Receiver } from '../src/rtnl/socket';
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_MULTI, RTM_GETLINK, RTM_NEWLINK } from '../src/rtnl/constants';
import { encodeMessage } from '../src/rtnl/wire';

/** A fake kernel: answers each request with an ACK (or a programmed reply) when told to. */
function fakeKernel() {
  const sent: Array<{ type: number; seq: number; flags: number }> = [];
  let receive!: Receiver;
  let refs = 0;
  const k = {
    sent,
    sendCalls: 0,
    get refs() {
      return refs;
    },
    factory: (r: Receiver) => {
      receive = r;
      return {
        port: 42,
        send(chunks: Uint8Array[]) {
          k.sendCalls++;
          const buf = Buffer.concat(chunks);
          for (let o = 0; o < buf.length;) {
            const len = buf.readUInt32LE(o);
            sent.push({ type: buf.readUInt16LE(o + 4), flags: buf.readUInt16LE(o + 6), seq: buf.readUInt32LE(o + 8) });
            if (len % 4) throw new Error(`message of ${len} bytes is not padded`);
            o += len;
          }
        },
        close() {},
        ref() {
          refs++;
        },
        unref() {
          refs--;
        },
      };
    },
    ack(seq: number, errno = 0) {
      const e = Buffer.alloc(20);
      e.writeInt32LE(-errno, 0);
      e.writeUInt32LE(seq, 12);
      receive(null, [Buffer.concat(encodeMessage(NLMSG_ERROR, 0x100, seq, 42, [e]))]);
    },
    reply(seq: number, type: number, flags: number, payload = Buffer.alloc(16)) {
      receive(null, [Buffer.concat(encodeMessage(type, flags, seq, 42, [payload]))]);
    },
    fail(errno: number) {
      receive(Object.assign(new Error('recv'), { errno }), []);
    },
    drained() {
      receive(null, [], true);
    },
  };
  return k;
}

const tick = () => new Promise((r) => setImmediate(r));

test('never more than `window` requests unanswered; the rest go out as answers come', async () => {
  const k = fakeKernel();
  const s = new NetlinkSocket(k.factory, { window: 4 });
  const all = Array.from({ length: 10 }, (_, i) => s.request(RTM_GETLINK, [Buffer.alloc(16)], `op${i}`));
  await tick();
  assert.is(k.sent.length, 4);
  assert.is(k.sendCalls, 1, 'requests of one tick share one sendmsg');
  for (let i = 0; i < 10; i++) {
    k.ack(k.sent[i].seq);
    await tick();
  }
  assert.is(k.sent.length, 10);
  assert.equal(await Promise.all(all), Array(10).fill([]));
});

test('replies lost to a full queue: ENOBUFS for exactly those requests, and the socket goes on', async () => {
  const k = fakeKernel();
  const s = new NetlinkSocket(k.factory, { window: 8 });
  const p = Array.from({ length: 3 }, () =>
    s.request(RTM_GETLINK, [Buffer.alloc(16)], 'get').then(
      () => 'ok',
      (e) => e.code,
    ),
  );
  await tick();
  k.fail(105);
  k.ack(k.sent[1].seq);
  k.drained();
  assert.equal(await Promise.all(p), ['ENOBUFS', 'ok', 'ENOBUFS']);
  const next = s.request(RTM_GETLINK, [Buffer.alloc(16)], 'again');
  await tick();
  k.ack(k.sent[3].seq);
  assert.equal(await next, []);
});

test('errors carry code, errno and operation; order of settlement follows the kernel', async () => {
  const k = fakeKernel();
  const s = new NetlinkSocket(k.factory);
  const a = s.request(RTM_NEWLINK, [Buffer.alloc(16)], 'bridge add br0');
  await tick();
  k.ack(k.sent[0].seq, 17);
  const e = await a.catch((x) => x);
  assert.is(e.code, 'EEXIST');
  assert.is(e.errno, 17);
  assert.is(e.operation, 'bridge add br0');
});

test('a dump collects every part until NLMSG_DONE; only one dump in flight', async () => {
  const k = fakeKernel();
  const s = new NetlinkSocket(k.factory);
  const d1 = s.request(RTM_GETLINK, [Buffer.alloc(16)], 'dump1', NLM_F_DUMP);
  const d2 = s.request(RTM_GETLINK, [Buffer.alloc(16)], 'dump2', NLM_F_DUMP);
  await tick();
  assert.is(k.sent.length, 1);
  const seq = k.sent[0].seq;
  k.reply(seq, RTM_NEWLINK, NLM_F_MULTI);
  k.reply(seq, RTM_NEWLINK, NLM_F_MULTI);
  k.reply(seq, NLMSG_DONE, NLM_F_MULTI, Buffer.alloc(4));
  assert.is((await d1).length, 2);
  await tick();
  assert.is(k.sent.length, 2);
  k.reply(k.sent[1].seq, NLMSG_DONE, NLM_F_MULTI, Buffer.alloc(4));
  assert.is((await d2).length, 0);
});

test('referenced only while requests are pending; close rejects what waits', async () => {
  const k = fakeKernel();
  const s = new NetlinkSocket(k.factory);
  const p = s.request(RTM_GETLINK, [Buffer.alloc(16)], 'get').catch((e) => e.code);
  await tick();
  assert.is(k.refs, 1);
  k.ack(k.sent[0].seq);
  await p;
  await tick();
  assert.is(k.refs, 0);
  const q = s.request(RTM_GETLINK, [Buffer.alloc(16)], 'get').catch((e) => e.code);
  s.close();
  assert.is(await q, 'EBADF');
});

test.run();
