/**
 * A fake kernel for tests that run without root, in the spirit of mdlayher/netlink's nltest:
 * give a Handle `{ transport: fakeTransport(fn) }` and every request it sends reaches `fn`,
 * which answers with messages built by the helpers here (ack, error, reply, done) or with
 * nothing (the reply is lost, as when the kernel's queue overflows: the request then fails with
 * ENOBUFS, like the real socket). Exported for users testing their own code on top of hostwire.
 *
 *   const fake = fakeTransport((req) => (req.type === RTM_GETLINK ? [reply(req, RTM_NEWLINK, body), ack(req)] : ack(req)));
 *   const h = new Handle({ transport: fake.factory });
 */
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTI, NLMSGERR_ATTR_MSG } from './constants';
import type { Transport, TransportFactory, TransportSink } from './socket';
import { MessageWriter, decodeDatagram, type NetlinkMessage } from './wire';

/** What a fake kernel answers one request with: messages, one message, or nothing (lost). */
export type FakeAnswer = Buffer | Buffer[] | null | undefined;

export interface FakeTransport {
  /** For HandleOptions.transport or new NetlinkSocket(...). */
  readonly factory: TransportFactory;
  /** Every request sent so far, decoded. */
  readonly requests: NetlinkMessage[];
  /** How many datagrams (sendmsg calls) carried them. */
  readonly sends: number;
  /** How many of those went out through sendNow (answered on the caller's thread). */
  readonly inlineSends: number;
  /** ref() minus unref() calls: > 0 while the socket keeps the event loop alive. */
  readonly refs: number;
  /** Delivers a message nobody asked for (a multicast notification). */
  notify(msg: Buffer): void;
  /** Reports a receive error (105 ENOBUFS ...). */
  recvError(errno: number): void;
  /** Multicast groups joined. */
  readonly groups: number[];
}

export interface FakeOptions {
  /** Answer at once (default) or only when `flush()` is called on the returned object. */
  manual?: boolean;
  port?: number;
  /**
   * Offer Transport.sendNow, as the addon's socket does when opened inline: a datagram sent
   * that way is answered at once, on the caller's thread (unless `manual`, then never).
   */
  inline?: boolean;
}

/**
 * One record of the addon's record stream (native/kernel/nlsock.cc, parsed by readRecords):
 * kind (1 datagram, 2 receive error, 3 drained, 4 send failed), its argument, the payload padded.
 */
export function record(kind: number, arg: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(kind, 0);
  head.writeUInt32LE(arg, 4);
  head.writeUInt32LE(payload.length, 8);
  return Buffer.concat([head, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
}

/** Encodes sink calls as the record stream: what sendNow returns. */
function records(datagrams: Buffer[], drainedId: number): Buffer {
  return Buffer.concat([...datagrams.map((d) => record(1, 0, d)), record(3, drainedId)]);
}

/** A fake transport whose kernel is `answer`; it defaults to acking everything. */
export function fakeTransport(
  answer: (req: NetlinkMessage) => FakeAnswer = ack,
  options: FakeOptions = {},
): FakeTransport & { flush(): void } {
  let sink: TransportSink | undefined;
  let refs = 0;
  let sends = 0;
  let inlineSends = 0;
  const requests: NetlinkMessage[] = [];
  const groups: number[] = [];
  const pending: Array<() => void> = [];
  const run = () => {
    for (const f of pending.splice(0)) f();
  };
  const factory: TransportFactory = (s) => {
    sink = s;
    const t: Transport = {
      port: options.port ?? 4242,
      send(datagram, sendId) {
        sends++;
        const msgs = decodeDatagram(Buffer.from(datagram));
        requests.push(...msgs);
        pending.push(() => {
          for (const m of msgs) {
            const a = answer(m);
            for (const out of a == null ? [] : Array.isArray(a) ? a : [a]) s.datagram(out, 0, out.length);
          }
          s.drained(sendId);
        });
        if (!options.manual) setImmediate(run);
      },
      ...(options.inline
        ? {
            sendNow(datagram: Uint8Array, sendId: number) {
              if (options.manual) return undefined;
              sends++;
              inlineSends++;
              const msgs = decodeDatagram(Buffer.from(datagram));
              requests.push(...msgs);
              const out: Buffer[] = [];
              for (const m of msgs) {
                const a = answer(m);
                out.push(...(a == null ? [] : Array.isArray(a) ? a : [a]));
              }
              return records(out, sendId);
            },
          }
        : {}),
      close() {},
      ref() {
        refs++;
      },
      unref() {
        refs--;
      },
      addMembership(group) {
        groups.push(group);
      },
    };
    return t;
  };
  return {
    factory,
    requests,
    groups,
    get sends() {
      return sends;
    },
    get inlineSends() {
      return inlineSends;
    },
    get refs() {
      return refs;
    },
    flush: run,
    notify(msg) {
      sink?.datagram(msg, 0, msg.length);
    },
    recvError(errno) {
      sink?.error(errno);
    },
  };
}

/** NLMSG_ERROR for `req` with errno (0: an ACK) and an optional extended-ack message. */
export function error(req: NetlinkMessage, errno: number, extack?: string): Buffer {
  const w = new MessageWriter(NLMSG_ERROR, NLM_F_CAPPED | (extack ? NLM_F_ACK_TLVS : 0), 64);
  const head = Buffer.alloc(20);
  head.writeInt32LE(-errno, 0);
  head.writeUInt32LE(16 + req.data.length, 4);
  head.writeUInt16LE(req.type, 8);
  head.writeUInt16LE(req.flags, 10);
  head.writeUInt32LE(req.seq, 12);
  head.writeUInt32LE(req.port, 16);
  w.bytes(head);
  if (extack) w.string(NLMSGERR_ATTR_MSG, extack);
  return withSeq(w.finish(), req.seq);
}

/** An ACK of `req`. */
export function ack(req: NetlinkMessage): Buffer {
  return error(req, 0);
}

/** A reply message of `type` to `req` (part of a dump with NLM_F_MULTI). */
export function reply(req: NetlinkMessage, type: number, body: Uint8Array, flags = 0): Buffer {
  return withSeq(new MessageWriter(type, flags, 32 + body.length).bytes(body).finish(), req.seq);
}

/** NLMSG_DONE ending a dump of `req` (flags: NLM_F_DUMP_INTR to say it was interrupted). */
export function done(req: NetlinkMessage, flags = 0): Buffer {
  return withSeq(new MessageWriter(NLMSG_DONE, NLM_F_MULTI | flags, 24).bytes(Buffer.alloc(4)).finish(), req.seq);
}

function withSeq(msg: Buffer, seq: number): Buffer {
  msg.writeUInt32LE(seq, 8);
  return msg;
}
