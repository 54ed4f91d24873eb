/** The socket layer with the exported fake transport: window, ordering, dumps, ENOBUFS, DUMP_INTR. No root. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_WINDOW, DUMP_RETRIES, NetlinkSocket, SEND_REQUESTS, readRecords } from '../src/rtnl/socket';
import { NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, RTM_GETLINK, RTM_NEWLINK } from '../src/rtnl/constants';
import { MessageWriter, type NetlinkMessage } from '../src/rtnl/wire';
import { ack, done, error, fakeTransport, record, reply } from '../src/rtnl/testing';
import { Handle } from '../src/rtnl/handle';

const tick = () => new Promise((r) => setImmediate(r));
const get = (dump = false) => new MessageWriter(RTM_GETLINK, dump ? NLM_F_DUMP : 0).ifinfomsg(0).finish();

test('never more than `window` requests unanswered; the rest go out as answers come', async () => {
  const k = fakeTransport(ack, { manual: true });
  const s = new NetlinkSocket(k.factory, { window: 4 });
  const all = Array.from({ length: 10 }, (_, i) => s.request(get(), `op${i}`));
  await tick();
  assert.is(k.requests.length, 4);
  assert.is(k.sends, 1, 'requests of one tick share one sendmsg');
  for (let i = 0; i < 10 && k.requests.length < 10; i++) {
    k.flush();
    await tick();
  }
  k.flush();
  assert.is(k.requests.length, 10);
  assert.equal(await Promise.all(all), Array(10).fill([]));
  for (const r of k.requests) assert.is(r.data.length % 4, 0, 'padded');
});

test('by default a send carries at most SEND_REQUESTS requests, and DEFAULT_WINDOW (several sends) are unanswered at once', async () => {
  const k = fakeTransport(ack, { manual: true });
  const s = new NetlinkSocket(k.factory);
  const all = Array.from({ length: 3000 }, (_, i) => s.request(get(), `op${i}`));
  await tick();
  assert.is(k.requests.length, DEFAULT_WINDOW, 'the window is full');
  assert.is(k.sends, DEFAULT_WINDOW / SEND_REQUESTS, 'in sends of SEND_REQUESTS each');
  while (k.requests.length < 3000) {
    k.flush();
    await tick();
  }
  k.flush();
  assert.is((await Promise.all(all)).length, 3000);
  assert.is(k.sends, Math.ceil(3000 / SEND_REQUESTS));
});

test('replies lost to a full queue: ENOBUFS for exactly those requests, and the socket goes on', async () => {
  let n = 0;
  // The kernel drops the replies of the first and third request.
  const k = fakeTransport((req) => (n++ % 2 === 0 && n < 4 ? null : ack(req)));
  const s = new NetlinkSocket(k.factory, { window: 8 });
  const p = Array.from({ length: 3 }, () =>
    s.request(get(), 'get').then(
      () => 'ok',
      (e) => e.code,
    ),
  );
  assert.equal(await Promise.all(p), ['ENOBUFS', 'ok', 'ENOBUFS']);
  assert.equal(await s.request(get(), 'again'), []);
});

test('lost replies over several sends in flight: ENOBUFS for exactly those, each when its own send drains', async () => {
  let n = 0;
  // Requests 5 (first send) and 700 (a later send) lose their replies; several sends are in flight at once.
  const lost = new Set([5, 700]);
  const k = fakeTransport((req) => (lost.has(n++) ? null : ack(req)), { manual: true });
  const s = new NetlinkSocket(k.factory);
  const outcome: string[] = [];
  const all = Array.from({ length: 1000 }, (_, i) =>
    s.request(get(), `op${i}`).then(
      () => (outcome[i] = 'ok'),
      (e: { code: string }) => (outcome[i] = e.code),
    ),
  );
  await tick();
  assert.ok(k.sends >= 3, 'several sends in flight');
  while (outcome.filter(Boolean).length < 1000) {
    k.flush();
    await tick();
  }
  await Promise.all(all);
  assert.equal(
    outcome.flatMap((o, i) => (o === 'ok' ? [] : [`${i}:${o}`])),
    ['5:ENOBUFS', '700:ENOBUFS'],
  );
});

test('a dump the kernel refused with the queue full, its error dropped too: ENOBUFS when drained, not a hang', async () => {
  let first = true;
  // The first dump gets nothing back at all; a started one always has its first part queued.
  const k = fakeTransport((req) => (first ? ((first = false), null) : [reply(req, RTM_NEWLINK, Buffer.alloc(16), NLM_F_MULTI), done(req)]));
  const s = new NetlinkSocket(k.factory);
  const e = await s.request(get(true), 'link show', true).catch((x) => x);
  assert.is(e.code, 'ENOBUFS');
  assert.is((await s.request(get(true), 'link show', true)).length, 1, 'the next dump works');
});

test('inline: a lone request or dump with nothing in flight is answered at once through sendNow; windows and a busy socket go through send', async () => {
  const k = fakeTransport(ack, { inline: true });
  const s = new NetlinkSocket(k.factory, { inline: true });
  let turned = false;
  setImmediate(() => (turned = true));
  assert.equal(await s.request(get(), 'lone'), []);
  assert.not.ok(turned, 'answered before the event loop turned');
  assert.is(k.inlineSends, 1);
  await Promise.all(Array.from({ length: 10 }, (_, i) => s.request(get(), `op${i}`)));
  assert.is(k.inlineSends, 1, 'ten in one tick: one send, not inline');
  assert.is(k.sends, 2);
  await s.request(get(true), 'dump', true);
  assert.is(k.inlineSends, 2, 'a lone dump too');
  const first = [s.request(get(), 'a'), s.request(get(), 'b')];
  await Promise.resolve();
  const later = s.request(get(), 'while two are in flight');
  await Promise.all([...first, later]);
  assert.is(k.inlineSends, 2, 'not while others are in flight');
  const e = await new NetlinkSocket(fakeTransport((m) => error(m, 17, 'it exists'), { inline: true }).factory, { inline: true })
    .request(get(), 'link add x')
    .catch((x) => x);
  assert.is(e.code, 'EEXIST');
  assert.is(e.extack, 'it exists');
  const bad = (() => {
    try {
      new Handle({ inline: 'yes' as unknown as boolean, transport: fakeTransport().factory });
    } catch (e) {
      return e as { code?: string };
    }
  })();
  assert.is(bad?.code, 'EINVALIDOPTION', 'inline must be a boolean');
  const plain = fakeTransport(ack, { inline: true });
  await new NetlinkSocket(plain.factory).request(get(), 'not asked for');
  assert.is(plain.inlineSends, 0, 'only a socket opened inline');
});

test('errors carry code, errno, operation and the extended ack', async () => {
  const k = fakeTransport((req) => error(req, 17, 'File exists here'));
  const s = new NetlinkSocket(k.factory);
  const e = await s.request(get(), 'bridge add br0').catch((x) => x);
  assert.is(e.code, 'EEXIST');
  assert.is(e.errno, 17);
  assert.is(e.operation, 'bridge add br0');
  assert.is(e.extack, 'File exists here');
});

test('a dump collects every part until NLMSG_DONE; only one dump in flight', async () => {
  const k = fakeTransport(
    (req) => [reply(req, RTM_NEWLINK, Buffer.alloc(16), NLM_F_MULTI), reply(req, RTM_NEWLINK, Buffer.alloc(16), NLM_F_MULTI), done(req)],
    {
      manual: true,
    },
  );
  const s = new NetlinkSocket(k.factory);
  const d1 = s.request(get(true), 'dump1', true);
  const d2 = s.request(get(true), 'dump2', true);
  await tick();
  assert.is(k.requests.length, 1);
  k.flush();
  assert.is((await d1).length, 2);
  await tick();
  assert.is(k.requests.length, 2);
  k.flush();
  assert.is((await d2).length, 2);
});

test('a dump interrupted by a change (NLM_F_DUMP_INTR) is sent again, then fails with EINTR', async () => {
  let intr = 2;
  const k = fakeTransport((req) => [reply(req, RTM_NEWLINK, Buffer.alloc(16), NLM_F_MULTI), done(req, intr-- > 0 ? NLM_F_DUMP_INTR : 0)]);
  const s = new NetlinkSocket(k.factory);
  assert.is((await s.request(get(true), 'dump', true)).length, 1);
  assert.is(k.requests.length, 3, 'two retries');
  const always = fakeTransport((req) => done(req, NLM_F_DUMP_INTR));
  const s2 = new NetlinkSocket(always.factory);
  const e = await s2.request(get(true), 'dump', true).catch((x) => x);
  assert.is(e.code, 'EINTR');
  assert.is(always.requests.length, DUMP_RETRIES);
});

test('requests in flight are found by sequence number across its wrap (0 skipped), answered out of order, behind a dump that stays open', async () => {
  const k = fakeTransport((req) => (req.flags & NLM_F_DUMP ? reply(req, RTM_NEWLINK, Buffer.alloc(16), NLM_F_MULTI) : ack(req)), {
    manual: true,
  });
  const s = new NetlinkSocket(k.factory, { window: 8 });
  (s as unknown as { seq: number }).seq = 0xffffffff - 3; // the next ones: ...fffd, ...fffe, ...ffff, 1, 2
  const order: string[] = [];
  const dump = s.request(get(true), 'dump', true);
  const ops = ['a', 'b', 'c', 'd'].map((n) => s.request(get(), n).then(() => order.push(n)));
  await tick();
  const seqs = k.requests.map((r) => r.seq);
  assert.equal(seqs, [0xfffffffd, 0xfffffffe, 0xffffffff, 1, 2]);
  // The last and the second answered first, then everything in order (answers already given are ignored).
  const byName = (n: string) => k.requests[1 + ['a', 'b', 'c', 'd'].indexOf(n)];
  const first = Buffer.concat([ack(byName('d')), ack(byName('b'))]);
  k.notify(first);
  k.flush();
  await Promise.all(ops);
  assert.equal(order, ['d', 'b', 'a', 'c']);
  assert.is(s.pending, 1, 'the dump is still open');
  // Many more requests come and go while the dump holds the oldest place.
  for (let round = 0; round < 40; round++) {
    const more = Array.from({ length: 6 }, (_, i) => s.request(get(), `r${round}.${i}`));
    await tick();
    k.flush();
    assert.equal(await Promise.all(more), Array(6).fill([]));
  }
  assert.is(s.pending, 1);
  k.notify(done(k.requests[0]));
  assert.is((await dump).length, 1, 'the dump ends with its one part');
  assert.is(s.pending, 0);
  // Emptied, the socket starts over and goes on.
  const x = s.request(get(), 'x');
  await tick();
  k.flush();
  assert.equal(await x, []);
});

test('referenced only while requests are pending; close rejects what waits', async () => {
  const k = fakeTransport();
  const s = new NetlinkSocket(k.factory);
  const p = s.request(get(), 'get');
  await tick();
  assert.is(k.refs, 1);
  await p;
  await tick();
  assert.is(k.refs, 0);
  const q = s.request(get(), 'get').catch((e) => e.code);
  s.close();
  assert.is(await q, 'EBADF');
});

test('notifications (seq 0) go to listeners; the addon record stream is parsed in order', async () => {
  const k = fakeTransport();
  const s = new NetlinkSocket(k.factory);
  const seen: NetlinkMessage[] = [];
  s.on('notification', (m) => seen.push(m));
  k.notify(new MessageWriter(RTM_NEWLINK, 0).ifinfomsg(7).finish());
  assert.is(seen.length, 1);
  assert.is(seen[0].data.readInt32LE(4), 7);
  const calls: string[] = [];
  const rec = record;
  const errno = Buffer.alloc(4);
  errno.writeUInt32LE(1);
  readRecords(Buffer.concat([rec(1, 0, Buffer.from('abcde')), rec(2, 105), rec(3, 9), rec(4, 9, errno)]), {
    datagram: (b, s0, e) => calls.push(`d:${b.toString('utf8', s0, e)}`),
    error: (n) => calls.push(`e:${n}`),
    drained: (id) => calls.push(`r:${id}`),
    sendFailed: (id, n) => calls.push(`f:${id}:${n}`),
  });
  assert.equal(calls, ['d:abcde', 'e:105', 'r:9', 'f:9:1']);
});

test.run();
