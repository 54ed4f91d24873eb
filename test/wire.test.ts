/** Codec tier: byte-exact encodings and ack parsing, no kernel, no root. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attr, decodeAck, encodeLinkPayload, encodeMessage } from '../src/rtnl/wire';
import { IFLA_INFO_KIND, IFLA_LINKINFO, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, RTM_NEWLINK } from '../src/rtnl/constants';
import { encodeBridgeData, decodeBridgeData } from '../src/rtnl/kinds/bridge';
import { decodeTunData } from '../src/rtnl/kinds/tun';
import { encodeVethData } from '../src/rtnl/kinds/veth';
import { errnoName } from '../src/rtnl/errors';

const hex = (parts: Uint8Array[] | Uint8Array) => Buffer.concat(Array.isArray(parts) ? parts : [parts]).toString('hex');

test('attr pads to 4 bytes and sets NLA_F_NESTED', () => {
  assert.is(hex(attr(IFLA_INFO_KIND, Buffer.from('bridge'))), '0a000100' + Buffer.from('bridge').toString('hex') + '0000');
  const nested = attr(IFLA_LINKINFO, [attr(IFLA_INFO_KIND, Buffer.from('veth'))], true);
  assert.is(hex(nested), '0c001280' + '08000100' + Buffer.from('veth').toString('hex'));
});

test('link payload: ifinfomsg, IFLA_IFNAME, then extra attributes on a 4-byte boundary', () => {
  const li = attr(IFLA_LINKINFO, [attr(IFLA_INFO_KIND, Buffer.from('bridge'))], true);
  // 'abcde' + NUL = 10-byte attribute: two bytes of padding before IFLA_LINKINFO.
  const bytes = hex(encodeLinkPayload({ index: 0 } as any, { ifname: 'abcde' }, [li]));
  assert.is(
    bytes,
    '00'.repeat(16) +
      '0a000300' +
      Buffer.from('abcde\0').toString('hex') +
      '0000' +
      '10001280' +
      '0a000100' +
      Buffer.from('bridge').toString('hex') +
      '0000',
  );
});

test('every message is padded to 4 bytes, so several can share one datagram', () => {
  for (const name of ['a', 'a0', 'abc', 'abcd', 'abcde']) {
    const m = Buffer.concat(encodeMessage(RTM_NEWLINK, 5, 1, 0, encodeLinkPayload({ index: 0 } as any, { ifname: name, mtu: 1400 })));
    assert.is(m.length % 4, 0, name);
    assert.is(m.readUInt32LE(0), m.length, name);
  }
});

test('message header: length, type, flags, seq, port', () => {
  const m = Buffer.concat(encodeMessage(RTM_NEWLINK, 0x605, 7, 0, [Buffer.alloc(16)]));
  assert.is(m.readUInt32LE(0), 32);
  assert.is(m.readUInt16LE(4), RTM_NEWLINK);
  assert.is(m.readUInt16LE(6), 0x605);
  assert.is(m.readUInt32LE(8), 7);
});

function errorMessage(errno: number, seq: number, extack?: string, capped = true) {
  const hdr = Buffer.alloc(16);
  hdr.writeUInt32LE(32, 0);
  hdr.writeUInt32LE(seq, 8);
  const e = Buffer.alloc(4);
  e.writeInt32LE(-errno);
  const parts: Buffer[] = [e, hdr];
  if (!capped) parts.push(Buffer.alloc(16));
  if (extack) parts.push(Buffer.from(attr(1, Buffer.from(extack + '\0'))));
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
  const data = Buffer.concat(encodeBridgeData({ stp: true, forwardDelay: 400, mcastSnooping: false, priority: 100 }));
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

test('veth peer: VETH_INFO_PEER nests an ifinfomsg and the peer name', () => {
  const b = Buffer.concat(encodeVethData({ ifname: 'p0' }));
  assert.is(b.readUInt16LE(2), 0x8001);
  assert.is(b.subarray(4, 20).toString('hex'), '00'.repeat(16));
  assert.is(b.subarray(20).toString('hex'), '07000300' + Buffer.from('p0\0').toString('hex') + '00');
});

test('address messages: IFA_F_NODAD in ifa_flags for a moved IPv6 address, never for IPv4', () => {
  const { addressMessage } = require('../src/rtnl/addr');
  const rt = require('netlink/dist/rt/structs');
  const { encodeWith } = require('../src/rtnl/wire');
  const bytes = (spec: object) => Buffer.concat(encodeWith(rt.formatAddressMessage, addressMessage(3, spec)));
  const v6 = bytes({ cidr: 'fd00::1/64', nodad: true });
  assert.equal([v6[0], v6[1], v6[2], v6.readUInt32LE(4)], [10, 64, 0x02, 3]); // family, prefixlen, flags, index
  assert.is(bytes({ cidr: 'fd00::1/64' })[2], 0);
  assert.is(bytes({ cidr: '10.0.0.1/24', nodad: true })[2], 0);
});

test.run();
