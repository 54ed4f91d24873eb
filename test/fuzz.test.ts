/**
 * Codec tier: a seeded fuzz of every decoder. 100,000 random and mutated inputs each; a decoder
 * either returns or throws DecodeError (code EBADMSG, naming what was wrong), never anything
 * else. A malformed message in a dump costs only that message. No root.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DecodeError, MessageWriter, decodeAck, decodeDatagram, type NetlinkMessage } from '../src/rtnl/wire';
import { decodeLink, decodeLinkBrief } from '../src/rtnl/link';
import { decodeAddress, addressAdd } from '../src/rtnl/addr';
import { decodeRoute, routeAdd } from '../src/rtnl/route';
import { NO_CONTEXT } from '../src/rtnl/request';
import { Handle } from '../src/rtnl/handle';
import { ack, done, fakeTransport, reply } from '../src/rtnl/testing';
import {
  IFLA_ADDRESS,
  IFLA_GROUP,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_INFO_SLAVE_DATA,
  IFLA_INFO_SLAVE_KIND,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  NLMSG_ERROR,
  NLM_F_MULTI,
  RTM_NEWLINK,
} from '../src/rtnl/constants';

const RUNS = 100_000;

/** mulberry32: a small seeded PRNG, so a failure replays. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Kernel-shaped RTM_NEWLINK bodies: a bridge, a port of it, a tap. */
function linkBodies(): Buffer[] {
  const body = (fn: (w: MessageWriter) => void) => {
    const w = new MessageWriter(RTM_NEWLINK, 0).ifinfomsg(7, 0x1003);
    fn(w);
    return w.finish().subarray(16);
  };
  const u8 = (w: MessageWriter, t: number, v: number) => w.u8(t, v);
  return [
    body((w) => {
      w.string(IFLA_IFNAME, 'br0')
        .u32(IFLA_MTU, 1500)
        .attr(IFLA_ADDRESS, Buffer.from([2, 0, 0, 0, 0, 1]))
        .u32(IFLA_GROUP, 0);
      w.u8(16, 6);
      w.nest(IFLA_LINKINFO, () => {
        w.string(IFLA_INFO_KIND, 'bridge');
        w.nest(IFLA_INFO_DATA, () => {
          w.u32(1, 1500).u32(5, 0).u16(6, 32768);
          u8(w, 7, 0);
          w.attr(11, Buffer.alloc(8))
            .attr(16, Buffer.alloc(8))
            .attr(20, Buffer.from([1, 0x80, 0xc2, 0, 0, 0]));
        });
      });
    }),
    body((w) => {
      w.string(IFLA_IFNAME, 'vnet0').u32(IFLA_MTU, 1500).u32(IFLA_MASTER, 7);
      w.nest(IFLA_LINKINFO, () => {
        w.string(IFLA_INFO_KIND, 'tun');
        w.nest(IFLA_INFO_DATA, () => w.u32(1, 1000).u32(2, 0xffffffff).u8(3, 2).u8(4, 0).u8(5, 1).u8(6, 1).u8(7, 0).u32(8, 1));
        w.string(IFLA_INFO_SLAVE_KIND, 'bridge');
        w.nest(IFLA_INFO_SLAVE_DATA, () => w.u8(1, 3).u16(2, 32).u32(3, 100).attr(13, Buffer.alloc(8)).attr(21, Buffer.alloc(8)));
      });
    }),
    body((w) => {
      w.string(IFLA_IFNAME, 'v0');
      w.nest(IFLA_LINKINFO, () => {
        w.string(IFLA_INFO_KIND, 'veth');
      });
      w.u32(5, 9).u32(37, 1);
    }),
  ];
}

function mutate(seed: Buffer, r: () => number): Buffer {
  const b = Buffer.from(seed);
  const kind = Math.floor(r() * 4);
  if (kind === 0) return b.subarray(0, Math.floor(r() * b.length)); // truncated
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n && b.length; i++) {
    const at = Math.floor(r() * b.length);
    if (kind === 1)
      b[at] = Math.floor(r() * 256); // a byte flipped
    else if (kind === 2 && at + 1 < b.length)
      b.writeUInt16LE(Math.floor(r() * 0x10000), at & ~1); // a length or type
    else b[at] ^= 1 << Math.floor(r() * 8);
  }
  return b;
}

function fuzz(name: string, seeds: Buffer[], decode: (b: Buffer) => unknown, seedNo: number) {
  test(`${name}: ${RUNS} random and mutated inputs give a value or a DecodeError`, () => {
    const r = rng(seedNo);
    let ok = 0;
    let refused = 0;
    for (const s of seeds) decode(s); // the seeds themselves decode
    for (let i = 0; i < RUNS; i++) {
      const input =
        i % 4 === 0
          ? Buffer.from(Array.from({ length: Math.floor(r() * 96) }, () => Math.floor(r() * 256)))
          : mutate(seeds[i % seeds.length], r);
      try {
        decode(input);
        ok++;
      } catch (e) {
        if (!(e instanceof DecodeError)) throw new Error(`${name}: input ${input.toString('hex')} threw ${String(e)}`);
        assert.is(e.code, 'EBADMSG');
        refused++;
      }
    }
    assert.ok(ok > 0 && refused > 0, `${name}: both outcomes seen (${ok} decoded, ${refused} refused)`);
  });
}

const msg = (type: number, data: Buffer): NetlinkMessage => ({ type, flags: 0, seq: 1, port: 0, data });
const links = linkBodies();

fuzz('decodeLink', links, (b) => decodeLink(b), 1);
fuzz('decodeLinkBrief', links, (b) => decodeLinkBrief(msg(RTM_NEWLINK, b)), 2);
test('decodeLinkBrief (read in place) agrees with decodeLink on name and group, for every input both accept', () => {
  const r = rng(12);
  let compared = 0;
  for (let i = 0; i < 20000; i++) {
    const b = mutate(links[i % links.length], r);
    let full: { index: number; name: string; group?: number } | undefined;
    let brief: { index: number; name: string; group: number } | undefined;
    try {
      full = decodeLink(b);
    } catch {
      full = undefined;
    }
    try {
      brief = decodeLinkBrief(msg(RTM_NEWLINK, b));
    } catch {
      brief = undefined;
    }
    if (!full || !brief) continue;
    compared++;
    assert.equal([brief.index, brief.name, brief.group], [full.index, full.name, full.group ?? 0], b.toString('hex'));
  }
  assert.ok(compared > 1000, `compared ${compared}`);
});

fuzz(
  'decodeAddress',
  [addressAdd(3, { cidr: '10.0.0.1/24', broadcast: '+', label: 'eth0' }), addressAdd(3, 'fd00::1/64')].map((q) =>
    q.encode(NO_CONTEXT).subarray(16),
  ),
  (b) => decodeAddress(b),
  3,
);
fuzz(
  'decodeRoute',
  [
    routeAdd({ dst: '10.1.0.0/16', gateway: '10.0.0.254', oif: 3, priority: 10, table: 1000 }),
    routeAdd({ dst: 'default', gateway: 'fd00::1' }),
  ].map((q) => q.encode(NO_CONTEXT).subarray(16)),
  (b) => decodeRoute(b),
  4,
);
fuzz(
  'decodeDatagram',
  [Buffer.concat(links.map((l) => new MessageWriter(RTM_NEWLINK, NLM_F_MULTI).bytes(l).finish()))],
  (b) => decodeDatagram(b),
  5,
);
test('decodeAck never throws: a short or malformed error message keeps what it can', () => {
  const r = rng(6);
  const seed = ack({ type: RTM_NEWLINK, flags: 5, seq: 9, port: 0, data: Buffer.alloc(16) }).subarray(16);
  for (let i = 0; i < RUNS; i++) decodeAck(msg(NLMSG_ERROR, mutate(seed, r)));
  assert.is(decodeAck(msg(NLMSG_ERROR, seed)).seq, 9);
});

test('one malformed link in a dump is reported, the rest are returned', async () => {
  const bad = Buffer.from(links[0]);
  bad.writeUInt16LE(200, 16); // the first attribute claims to run past the message
  const fake = fakeTransport((req) => [
    reply(req, RTM_NEWLINK, links[0], NLM_F_MULTI),
    reply(req, RTM_NEWLINK, bad, NLM_F_MULTI),
    reply(req, RTM_NEWLINK, links[1], NLM_F_MULTI),
    done(req),
  ]);
  const errors: DecodeError[] = [];
  const h = new Handle({ transport: fake.factory, onDecodeError: (e) => errors.push(e) });
  const got = await h.listLinks();
  assert.equal(
    got.map((l) => l.name),
    ['br0', 'vnet0'],
  );
  assert.is(errors.length, 1);
  assert.is(errors[0].code, 'EBADMSG');
  assert.is(errors[0].attribute, 'IFLA_IFNAME');
  h.close();
});

test.run();
