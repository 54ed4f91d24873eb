/** Codec tier: byte-exact encodings and ack parsing, no kernel, no root. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageWriter, decodeAck, encodeMessage } from '../src/rtnl/wire';
import { IFLA_INFO_KIND, IFLA_LINKINFO, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, RTM_NEWLINK } from '../src/rtnl/constants';
import { decodeBridgeData } from '../src/rtnl/kinds/bridge';
import { decodeTunData } from '../src/rtnl/kinds/tun';
import { linkCreate, linkSet, NO_CONTEXT, type LinkChange } from '../src/rtnl/request';
import { errnoName } from '../src/rtnl/errors';

const attr = (type: number, data: Buffer) => {
  const body = new MessageWriter(0, 0).attr(type, data).finish().subarray(16);
  return body;
};

test('MessageWriter pads attributes to 4 bytes and sets NLA_F_NESTED on nests', () => {
  const kind = new MessageWriter(0, 0).string(IFLA_INFO_KIND, 'bridge').finish().subarray(16);
  assert.is(kind.toString('hex'), '0b000100' + Buffer.from('bridge\0').toString('hex') + '00');
  const nested = new MessageWriter(0, 0)
    .nest(IFLA_LINKINFO, (w) => w.attr(IFLA_INFO_KIND, Buffer.from('veth')))
    .finish()
    .subarray(16);
  assert.is(nested.toString('hex'), '0c001280' + '08000100' + Buffer.from('veth').toString('hex'));
});

test('string attributes: ASCII copied byte by byte, anything else through Buffer.write, same bytes', () => {
  for (const v of ['', 'eth0', 'bröd', '日本', 'x'.repeat(64), 'y'.repeat(65), 'z'.repeat(300)]) {
    const got = new MessageWriter(0, 0, 16).string(IFLA_INFO_KIND, v).finish().subarray(16);
    const body = Buffer.from(v + '\0');
    const want = Buffer.alloc(4 + ((body.length + 3) & ~3));
    want.writeUInt16LE(4 + body.length, 0);
    want.writeUInt16LE(IFLA_INFO_KIND, 2);
    body.copy(want, 4);
    assert.is(got.toString('hex'), want.toString('hex'), JSON.stringify(v));
  }
});

test('linkSet sizes its message exactly: the buffer is the message, nothing to trim or regrow', () => {
  const ctx = { ...NO_CONTEXT, known: (n: string) => (n === 'br0' ? 7 : undefined), netnsFd: () => 9 };
  const changes: LinkChange[] = [
    { up: true },
    { master: 'br0' },
    { master: null, mtu: 1400, group: 3 },
    { name: 'new0' },
    { address: '02:00:00:00:00:01', alias: 'vm é', netns: 'x' },
  ];
  for (const dev of ['tap0', 12])
    for (const c of changes) {
      if (c.name !== undefined && typeof dev === 'string') continue; // a rename by name needs the index resolved
      const req = linkSet(dev, c);
      const sizes: number[] = [];
      const allocUnsafe = Buffer.allocUnsafe;
      Buffer.allocUnsafe = (n: number) => (sizes.push(n), allocUnsafe(n));
      let m: Buffer;
      try {
        m = req.encode(ctx);
      } finally {
        Buffer.allocUnsafe = allocUnsafe;
      }
      assert.is(m.readUInt32LE(0), m.length, JSON.stringify([dev, c]));
      assert.equal(sizes, [m.length], `one buffer of exactly the message: ${JSON.stringify([dev, c])}`);
    }
});

test('every message is padded to 4 bytes, so several can share one datagram', () => {
  for (const name of ['a', 'a0', 'abc', 'abcd', 'abcde']) {
    const m = linkCreate(name, 'bridge', { mtu: 1400 }).encode(NO_CONTEXT);
    assert.is(m.length % 4, 0, name);
    assert.is(m.readUInt32LE(0), m.length, name);
  }
});

test('message header: length, type, flags, seq 0 (the socket writes it), port', () => {
  const m = encodeMessage(RTM_NEWLINK, 0x605, [Buffer.alloc(16)]);
  assert.is(m.readUInt32LE(0), 32);
  assert.is(m.readUInt16LE(4), RTM_NEWLINK);
  assert.is(m.readUInt16LE(6), 0x605);
  assert.is(m.readUInt32LE(8), 0);
});

function errorMessage(errno: number, seq: number, extack?: string, capped = true) {
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(32, 0);
  hdr.writeUInt32LE(seq, 8);
  const e = Buffer.alloc(4);
  e.writeInt32LE(-errno);
  const parts: Buffer[] = [e, hdr];
  if (!capped) parts.push(Buffer.alloc(16));
  if (extack) parts.push(attr(1, Buffer.from(extack + '\0')));
  return {
    type: NLMSG_ERROR,
    flags: (capped ? NLM_F_CAPPED : 0) | (extack ? NLM_F_ACK_TLVS : 0),
    seq,
    port: 1,
    data: Buffer.concat(parts),
  };
}

test('decodeAck: errno, seq and the extended-ack message', () => {
  const a = decodeAck(errorMessage(40, 9, 'Can not enslave a bridge to a bridge'));
  assert.equal(a, { errno: 40, seq: 9, extack: 'Can not enslave a bridge to a bridge' });
  assert.equal(decodeAck(errorMessage(0, 3)), { errno: 0, seq: 3 });
  // Uncapped: the whole request is echoed before the TLVs.
  assert.is(decodeAck(errorMessage(17, 4, 'exists', false)).extack, 'exists');
});

test('errno names keep the kernel spelling', () => {
  assert.is(errnoName(17), 'EEXIST');
  assert.is(errnoName(19), 'ENODEV');
  assert.is(errnoName(95), 'EOPNOTSUPP');
  assert.is(errnoName(105), 'ENOBUFS');
});

test('bridge IFLA_INFO_DATA round-trips under the kernel names', () => {
  const m = linkCreate('br0', 'bridge', { stp: true, forwardDelay: 400, mcastSnooping: false, priority: 100 }).encode(NO_CONTEXT);
  // ifinfomsg, IFLA_IFNAME 'br0', IFLA_LINKINFO { IFLA_INFO_KIND 'bridge', IFLA_INFO_DATA {...} }
  const data = m.subarray(16 + 16 + 8 + 4 + 12 + 4);
  assert.equal(decodeBridgeData(data), { forward_delay: 400, stp_state: 1, priority: 100, mcast_snooping: 0 });
  // IFLA_BR_FORWARD_DELAY (1) u32 400 comes first.
  assert.is(data.subarray(0, 8).toString('hex'), '0800010090010000');
});

test('tun IFLA_INFO_DATA decodes like ip -d -j', () => {
  const u8 = (t: number, v: number) => attr(t, Buffer.from([v]));
  const u32 = (t: number, v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return attr(t, b);
  };
  const buf = Buffer.concat([u32(1, 1000), u32(2, 0xffffffff), u8(3, 2), u8(4, 0), u8(5, 1), u8(6, 1), u8(7, 1), u32(8, 2), u32(9, 0)]);
  assert.equal(decodeTunData(buf), {
    type: 'tap',
    pi: false,
    vnet_hdr: true,
    persist: true,
    multi_queue: true,
    num_queues: 2,
    num_disabled_queues: 0,
    owner: 1000,
  });
});

test.run();
