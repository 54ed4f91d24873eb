/**
 * The socket layer: requests, acks, sequence numbers and a bounded in-flight window, on top of a
 * Transport (the addon's NlSocket, or a fake one in codec tests). Pure bookkeeping: no message
 * knows its meaning here.
 *
 * Why a window: the kernel runs a request inside sendmsg() and queues its reply on our receive
 * queue; replies pile up until we read them. With N requests sent in one go, N replies must fit
 * in the receive buffer or the kernel drops them (ENOBUFS). So at most `window` requests are
 * unanswered at any time, and the receive buffer is sized for that many replies. Should the
 * kernel still drop replies, every request that was waiting is settled with ENOBUFS: nothing
 * hangs and the process does not die: rtnetlink answers inside sendmsg(), so once the receive
 * queue has been drained, a request still unanswered lost its reply, and fails with ENOBUFS.
 */
import { EventEmitter } from 'events';
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLM_F_DUMP_INTR } from './constants';
import { NetlinkError } from './errors';
import { decodeAck, decodeDatagram, encodeMessage, type NetlinkMessage } from './wire';

/** Bytes out, datagrams in. */
export interface Transport {
  /** The netlink port id the kernel gave the socket. */
  readonly port: number;
  /** One sendmsg of the gathered chunks; throws an errno error. */
  send(chunks: Uint8Array[]): void;
  close(): void;
  ref(): void;
  unref(): void;
}
/**
 * Datagrams from the kernel. `drained` says the receive queue was found empty after them: every
 * request already sent has had its reply queued by then (rtnetlink answers inside sendmsg), so
 * one still unanswered, other than a dump, lost its reply to a full queue.
 */
export type Receiver = (err: Error | null, datagrams: Buffer[], drained?: boolean) => void;
export type TransportFactory = (receive: Receiver) => Transport;

export interface SocketOptions {
  /** Most requests unanswered at once (default 256). */
  window?: number;
}

interface Pending {
  seq: number;
  op: string;
  dump: boolean;
  chunks: Uint8Array[];
  bytes: number;
  parts: NetlinkMessage[];
  resolve(msgs: NetlinkMessage[]): void;
  reject(err: Error): void;
}

const MAX_SEND_BYTES = 64 * 1024;
const MAX_SEND_CHUNKS = 512;

export class NetlinkSocket extends EventEmitter {
  readonly window: number;
  private readonly transport: Transport;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly queue: Pending[] = [];
  private readonly inflight = new Map<number, Pending>();
  private dumpInFlight = false;
  private flushScheduled = false;
  private referenced = false;
  private closed = false;

  constructor(factory: TransportFactory, options: SocketOptions = {}) {
    super();
    this.window = Math.max(1, options.window ?? 256);
    this.transport = factory((err, datagrams, drained) => this.receive(err, datagrams, drained));
  }

  /** Messages nobody asked for (multicast notifications). */
  override on(event: 'notification', fn: (msg: NetlinkMessage) => void): this;
  /** Transport errors that could not be tied to one request (already settled as failures). */
  override on(event: 'error', fn: (err: Error) => void): this;
  override on(event: string, fn: (...args: never[]) => void): this {
    return super.on(event, fn as (...args: unknown[]) => void);
  }

  get port(): number {
    return this.transport.port;
  }

  /** Requests queued or unanswered. */
  get pending(): number {
    return this.queue.length + this.inflight.size;
  }

  /**
   * Sends one request and settles with its replies: [] for an ACK, the reply messages of a
   * GET, or every part of a dump. Rejects with NetlinkError on a kernel error.
   */
  request(type: number, payload: Uint8Array[], op: string, flags = 0): Promise<NetlinkMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkError(9 /* EBADF */, op, 'socket is closed'));
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    const seq = (this.seq = (this.seq + 1) >>> 0 || 1);
    const f = NLM_F_REQUEST | flags | (dump ? 0 : NLM_F_ACK);
    const chunks = encodeMessage(type, f, seq, 0, payload);
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ seq, op, dump, chunks, bytes, parts: [], resolve, reject });
      this.scheduleFlush();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    const err = (p: Pending) => new NetlinkError(9, p.op, 'socket closed before the kernel answered');
    for (const p of this.inflight.values()) p.reject(err(p));
    for (const p of this.queue) p.reject(err(p));
    this.inflight.clear();
    this.queue.length = 0;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Requests made in the same tick go out together, in one sendmsg.
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (!this.closed && this.queue.length && this.inflight.size < this.window) {
      const batch: Pending[] = [];
      const chunks: Uint8Array[] = [];
      let bytes = 0;
      while (this.queue.length && this.inflight.size + batch.length < this.window) {
        const p = this.queue[0];
        // One dump at a time per socket (the kernel answers EBUSY otherwise); order is kept.
        if (p.dump && (this.dumpInFlight || batch.some((b) => b.dump))) break;
        if (batch.length && (bytes + p.bytes > MAX_SEND_BYTES || chunks.length + p.chunks.length > MAX_SEND_CHUNKS)) break;
        this.queue.shift();
        batch.push(p);
        chunks.push(...p.chunks);
        bytes += p.bytes;
      }
      if (!batch.length) break;
      for (const p of batch) {
        this.inflight.set(p.seq, p);
        if (p.dump) this.dumpInFlight = true;
      }
      try {
        this.transport.send(chunks);
      } catch (e) {
        const n = e as { errno?: number };
        for (const p of batch) this.settle(p, new NetlinkError(n.errno ?? 5, p.op, (e as Error).message));
      }
    }
    this.updateRef();
  }

  private updateRef(): void {
    const want = this.inflight.size > 0 || this.queue.length > 0;
    if (want === this.referenced || this.closed) return;
    this.referenced = want;
    if (want) this.transport.ref();
    else this.transport.unref();
  }

  private settle(p: Pending, err: Error | null): void {
    if (!this.inflight.delete(p.seq)) return;
    if (p.dump) this.dumpInFlight = false;
    if (err) p.reject(err);
    else p.resolve(p.parts);
  }

  private receive(err: Error | null, datagrams: Buffer[], drained = false): void {
    if (err) {
      const errno = (err as { errno?: number }).errno;
      // ENOBUFS: the kernel dropped replies. Those that did arrive still settle their requests;
      // the ones lost are found when the queue is drained (below).
      if (errno !== 105 /* ENOBUFS */) {
        // Any other receive error leaves the socket's state unknown: fail what waits.
        for (const p of [...this.inflight.values()]) this.settle(p, new NetlinkError(errno ?? 5, p.op, err.message));
      }
      if (this.listenerCount('error')) this.emit('error', err);
    }
    for (const d of datagrams) {
      let msgs: NetlinkMessage[];
      try {
        msgs = decodeDatagram(d);
      } catch (e) {
        if (this.listenerCount('error')) this.emit('error', e as Error);
        continue;
      }
      for (const m of msgs) this.dispatch(m);
    }
    if (drained) {
      for (const p of [...this.inflight.values()])
        if (!p.dump) this.settle(p, new NetlinkError(105, p.op, 'the kernel dropped the reply: receive queue full (ENOBUFS)'));
    }
    this.flush();
  }

  private dispatch(m: NetlinkMessage): void {
    if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) return;
    if (m.type === NLMSG_ERROR) {
      const ack = decodeAck(m);
      const p = this.inflight.get(ack.seq);
      if (!p) return;
      this.settle(p, ack.errno ? new NetlinkError(ack.errno, p.op, ack.extack, ack.badAttrOffset) : null);
      return;
    }
    const p = m.seq ? this.inflight.get(m.seq) : undefined;
    if (!p) {
      if (m.seq === 0 || m.port === 0) this.emit('notification', m);
      return;
    }
    if (m.type === NLMSG_DONE) {
      const ack = decodeAck(m);
      if (ack.errno) return this.settle(p, new NetlinkError(ack.errno, p.op, ack.extack));
      if (m.flags & NLM_F_DUMP_INTR)
        return this.settle(p, new NetlinkError(4 /* EINTR */, p.op, 'dump was interrupted by a concurrent change; retry'));
      return this.settle(p, null);
    }
    p.parts.push(m);
  }
}
