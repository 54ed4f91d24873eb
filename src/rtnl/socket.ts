/**
 * The socket layer: requests, acks, sequence numbers and a bounded in-flight window, on top of a
 * Transport (the addon's NlSocket, whose own thread does every sendmsg and recv, or a fake one:
 * see testing.ts). Pure bookkeeping: no message knows its meaning here.
 *
 * Why a window: the kernel runs a request inside sendmsg() and queues its reply on our receive
 * queue; replies pile up until they are read. One sendmsg carries at most SEND_REQUESTS requests,
 * and the socket's thread reads every reply of a send before it makes the next, so the receive
 * queue never holds more than one send's replies; at most `window` requests (several sends) are
 * unanswered at any time, so the socket's thread always has the next send at hand while JS takes
 * the replies of the last: the two work at once, as a pipeline. Should the kernel still drop
 * replies, the transport says when a send's replies have all been read ("drained"): a request of
 * that send still unanswered lost its reply (a dump: got nothing at all), and fails with ENOBUFS.
 * Nothing hangs.
 *
 * Dumps interrupted by a concurrent change (NLM_F_DUMP_INTR) are sent again, up to
 * DUMP_RETRIES times, then fail with EINTR.
 */
import { EventEmitter } from 'events';
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_REQUEST } from './constants';
import { NetlinkError } from './errors';
import { HEADER_LENGTH, align4, decodeAck, type NetlinkMessage } from './wire';

/** What a transport reports back, in order. */
export interface TransportSink {
  /** One datagram from the kernel (bytes [start, end) of buf). */
  datagram(buf: Buffer, start: number, end: number): void;
  /** A receive error: ENOBUFS (the kernel dropped messages) or worse. */
  error(errno: number): void;
  /** Every send up to `sendId` was made and the receive queue was then found empty. */
  drained(sendId: number): void;
  /** sendmsg() of send `sendId` failed with errno. */
  sendFailed(sendId: number, errno: number): void;
}

/** Bytes out, datagrams in. */
export interface Transport {
  /** The netlink port id the kernel gave the socket. */
  readonly port: number;
  /** Queues one datagram (one or more whole messages) for one sendmsg; must not block. */
  send(datagram: Uint8Array, sendId: number): void;
  /**
   * Optional: sends a datagram at once, on the calling thread, and returns the records of its
   * whole answer (readRecords' format, ending with its drained record); undefined when it cannot
   * now (the transport is busy), and then nothing was sent.
   */
  sendNow?(datagram: Uint8Array, sendId: number): Buffer | ArrayBuffer | undefined;
  close(): void;
  ref(): void;
  unref(): void;
  /** Joins a multicast group (RTNLGRP_*), for watchers. */
  addMembership?(group: number): void;
}
export type TransportFactory = (sink: TransportSink) => Transport;

export interface SocketOptions {
  /** Most requests unanswered at once (default DEFAULT_WINDOW). */
  window?: number;
  /**
   * A lone request or dump, sent while nothing else is in flight, goes out and is answered on
   * the calling thread (Transport.sendNow) instead of through the transport's own thread: no
   * hand-off between threads, at the price of the kernel's work for it (for a dump, every part)
   * running on this thread. For processes whose event loop serves nobody else (the CLI).
   * Default false.
   */
  inline?: boolean;
}

/**
 * Most requests in one sendmsg(): the replies the receive queue holds at most (see above). Also
 * the longest the kernel works in one go: this kernel is built without preemption
 * (CONFIG_PREEMPT_NONE), so a thread inside sendmsg() keeps its CPU until the whole send is done,
 * and 256 set-masters (~130 us each on an up bridge) held one for ~33 ms: an event loop woken on
 * that CPU waited for it (measured: the JS thread's run-queue wait, no GC, event-loop delay up to
 * 22-32 ms in the attach phase of 5,000 taps). 64 hold it for ~8 ms, at the same throughput.
 */
export const SEND_REQUESTS = 64;
/** Most requests unanswered at once by default: sixteen sends. */
export const DEFAULT_WINDOW = 16 * SEND_REQUESTS;

/**
 * Called once with the request's reply messages, or its error, and the tag the request was sent
 * with (one callback can then serve a whole batch: no closure per request). A request answered
 * by an ack alone gets NO_REPLIES, one shared frozen empty list (no list per ack).
 */
export type ReplyCallback = (err: NetlinkError | null, msgs: readonly NetlinkMessage[], tag: number) => void;

/** The replies of a request answered without messages (an ack, an error). */
export const NO_REPLIES: readonly NetlinkMessage[] = Object.freeze([]);

/** What a request is called in errors: a string, or an object whose `op` is computed on demand (a Request). */
export type OpLabel = string | { readonly op: string };
const label = (op: OpLabel): string => (typeof op === 'string' ? op : op.op);

interface Pending {
  seq: number;
  op: OpLabel;
  dump: boolean;
  msg: Buffer;
  sendId: number;
  tries: number;
  /** Reply messages, made on the first one (an ack needs none). */
  parts?: NetlinkMessage[];
  cb: ReplyCallback;
  tag: number;
  /** A dump's parts go here as they arrive (in order with notifications) instead of into `parts`. */
  onPart?: (m: NetlinkMessage) => void;
  /** A dump has had a message of its own (the kernel started it). */
  started?: boolean;
}

/** The sequence number after `seq` (they wrap at 2^32, and 0 is never used: it marks notifications). */
const seqAfter = (seq: number): number => (seq + 1) >>> 0 || 1;

/**
 * The requests in flight, in send order, found by sequence number. Every request sent takes the
 * sequence number after the last one's (seqAfter), so its place is its distance from the
 * oldest's: an array and two indexes, reused from window to window. (A Map grew and shrank its
 * hash table as each window filled and drained: ~100 bytes of garbage per request.)
 */
class InFlight {
  private slots: Array<Pending | undefined> = [];
  /** slots[head] is the oldest (settled ones at the front are passed at once); slots[tail] the next free. */
  private head = 0;
  private tail = 0;
  /** The sequence number of slots[head]. */
  private base = 0;
  /** Bumped when the slots start over: a walk begun before stops. */
  private generation = 0;
  size = 0;

  /** Adds `p`, whose seq must be seqAfter() the last one added while any is in flight. */
  add(p: Pending): void {
    if (this.size === 0) {
      // Emptied: start over at the front, and let go of a long array (one a slow dump held open).
      if (this.tail > 4096) this.slots = [];
      this.head = this.tail = 0;
      this.base = p.seq;
      this.generation++;
    }
    this.slots[this.tail++] = p;
    this.size++;
  }

  /** The index of `seq`'s slot, or -1 when it is not among those in flight. */
  private indexOf(seq: number): number {
    // Sequence numbers wrap, skipping 0: one past the wrap is one nearer than it looks.
    const d = ((seq - this.base) >>> 0) - (seq < this.base ? 1 : 0);
    return d < this.tail - this.head ? this.head + d : -1;
  }

  get(seq: number): Pending | undefined {
    const k = this.indexOf(seq);
    return k < 0 ? undefined : this.slots[k];
  }

  /** Removes `p`; false if it was not in flight. */
  delete(p: Pending): boolean {
    const k = this.indexOf(p.seq);
    if (k < 0 || this.slots[k] !== p) return false;
    this.slots[k] = undefined;
    this.size--;
    while (this.head < this.tail && this.slots[this.head] === undefined) {
      this.head++;
      this.base = seqAfter(this.base);
    }
    return true;
  }

  /** Calls `fn` for each request in flight, oldest first, until it returns false (not for ones added meanwhile). */
  walk(fn: (p: Pending) => boolean): void {
    const generation = this.generation;
    const end = this.tail;
    for (let k = this.head; k < end && generation === this.generation; k++) {
      const p = this.slots[k];
      if (p && !fn(p)) return;
    }
  }

  /** Every request in flight, oldest first, as a list of its own. */
  list(): Pending[] {
    const out: Pending[] = [];
    this.walk((p) => out.push(p) > 0);
    return out;
  }

  clear(): void {
    this.slots = [];
    this.head = this.tail = this.size = 0;
    this.generation++;
  }
}

const MAX_SEND_BYTES = 64 * 1024;
const SETTLED = Promise.resolve();
/** What a sent request's message is replaced by. */
const SENT = Buffer.alloc(0);
export const DUMP_RETRIES = 5;

/**
 * Parses the addon's record stream (see native/kernel/nlsock.cc) into sink calls. The addon
 * hands an ArrayBuffer, viewed here as a Buffer made in JS (why: nlsock.cc).
 */
export function readRecords(records: Buffer | ArrayBuffer, sink: TransportSink): void {
  const buf = records instanceof ArrayBuffer ? Buffer.from(records) : records;
  let off = 0;
  while (off + 12 <= buf.length) {
    const kind = buf.readUInt32LE(off);
    const arg = buf.readUInt32LE(off + 4);
    const len = buf.readUInt32LE(off + 8);
    const start = off + 12;
    off = start + align4(len);
    if (kind === 1) sink.datagram(buf, start, start + len);
    else if (kind === 2) sink.error(arg);
    else if (kind === 3) sink.drained(arg);
    else if (kind === 4) sink.sendFailed(arg, buf.readUInt32LE(start));
  }
}

export class NetlinkSocket extends EventEmitter {
  readonly window: number;
  private readonly inline: boolean;
  private readonly transport: Transport;
  private readonly sink: TransportSink;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private sendId = 0;
  private readonly queue: Pending[] = [];
  private queueHead = 0;
  private readonly inflight = new InFlight();
  private dumpInFlight = false;
  private flushScheduled = false;
  private referenced = false;
  private held = false;
  private closed = false;

  constructor(factory: TransportFactory, options: SocketOptions = {}) {
    super();
    this.window = Math.max(1, options.window ?? DEFAULT_WINDOW);
    this.inline = options.inline ?? false;
    this.sink = {
      datagram: (buf, start, end) => this.datagram(buf, start, end),
      error: (errno) => this.recvError(errno),
      drained: (id) => this.drained(id),
      sendFailed: (id, errno) => this.sendFailed(id, errno),
    };
    this.transport = factory(this.sink);
  }

  /** Messages nobody asked for (multicast notifications). */
  override on(event: 'notification', fn: (msg: NetlinkMessage) => void): this;
  /** Errors that could not be tied to one request: a receive error, an undecodable datagram. */
  override on(event: 'error', fn: (err: Error) => void): this;
  override on(event: string, fn: (...args: never[]) => void): this {
    return super.on(event, fn as (...args: unknown[]) => void);
  }

  get port(): number {
    return this.transport.port;
  }

  /** Requests queued or unanswered. */
  get pending(): number {
    return this.queue.length - this.queueHead + this.inflight.size;
  }

  /**
   * Sends one whole message (built by a request builder; its seq is written here) and settles
   * with its replies: [] for an ACK, the reply messages of a GET, or every part of a dump.
   * Rejects with NetlinkError on a kernel error.
   */
  request(msg: Buffer, op: OpLabel, dump = false): Promise<NetlinkMessage[]> {
    return new Promise((resolve, reject) =>
      this.send(msg, op, dump, (err, msgs) => (err ? reject(err) : resolve(msgs === NO_REPLIES ? [] : (msgs as NetlinkMessage[])))),
    );
  }

  /** request() with a callback: no promise per request, for batches. Call order is wire order. */
  send(msg: Buffer, op: OpLabel, dump: boolean, cb: ReplyCallback, onPart?: (m: NetlinkMessage) => void, tag = 0): void {
    if (this.closed) {
      cb(new NetlinkError(9 /* EBADF */, label(op), 'socket is closed'), NO_REPLIES, tag);
      return;
    }
    if (msg.length < HEADER_LENGTH) throw new RangeError('not a netlink message');
    // A request asks for an ack (a dump ends with NLMSG_DONE instead).
    if (!dump) msg.writeUInt16LE(msg.readUInt16LE(6) | NLM_F_REQUEST | NLM_F_ACK, 6);
    else msg.writeUInt16LE(msg.readUInt16LE(6) | NLM_F_REQUEST, 6);
    // Every field from the start: one shape for all, nothing added later.
    this.queue.push({ seq: 0, op, dump, msg, sendId: 0, tries: 0, parts: undefined, cb, tag, onPart, started: false });
    // A whole send's worth waiting and room for it: send it now, so the kernel (on the socket's
    // thread) starts while the caller goes on queueing; otherwise at the end of this tick.
    if (this.queue.length - this.queueHead >= SEND_REQUESTS && this.inflight.size + SEND_REQUESTS <= this.window) this.flush();
    else this.scheduleFlush();
  }

  /** Keeps the event loop alive while on, requests or not (a watcher with listeners). */
  hold(on: boolean): void {
    this.held = on;
    this.updateRef();
  }

  /** Joins a multicast group (RTNLGRP_*): its messages arrive as 'notification' events. */
  addMembership(group: number): void {
    if (!this.transport.addMembership) throw new NetlinkError(95, `join group ${group}`, 'this transport has no multicast groups');
    this.transport.addMembership(group);
  }

  close(): void {
    if (this.closed) return;
    if (this.referenced) this.transport.unref();
    this.referenced = false;
    this.closed = true;
    this.transport.close();
    const waiting = [...this.inflight.list(), ...this.queue.slice(this.queueHead)];
    this.inflight.clear();
    this.queue.length = this.queueHead = 0;
    for (const p of waiting) p.cb(new NetlinkError(9, label(p.op), 'socket closed before the kernel answered'), NO_REPLIES, p.tag);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Requests made in the same tick go out together, in one sendmsg. A reaction on a settled
    // promise is the same microtask as queueMicrotask's, without the AsyncResource node makes
    // for each of those.
    void SETTLED.then(this.flushTask);
  }

  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private nextSeq(): number {
    return (this.seq = seqAfter(this.seq));
  }

  private flush(): void {
    const q = this.queue;
    while (!this.closed && this.queueHead < q.length && this.inflight.size < this.window) {
      // A send is the run q[from..to) of the queue (no list of its own), walked by index: flush
      // runs once per send, too seldom for V8 to optimise it, and an unoptimised for-of makes an
      // iterator result per element.
      const from = this.queueHead;
      let bytes = 0;
      let dumps = false;
      while (this.queueHead < q.length && this.inflight.size + (this.queueHead - from) < this.window) {
        const p = q[this.queueHead];
        const n = this.queueHead - from;
        // One dump at a time per socket (the kernel answers EBUSY otherwise); order is kept.
        if (p.dump && (this.dumpInFlight || dumps)) break;
        if (n && (bytes + p.msg.length > MAX_SEND_BYTES || n >= SEND_REQUESTS)) break;
        this.queueHead++;
        bytes += p.msg.length;
        dumps ||= p.dump;
      }
      const to = this.queueHead;
      if (to === from) break;
      const id = (this.sendId = (this.sendId + 1) >>> 0 || 1);
      const datagram = to - from === 1 ? q[from].msg : Buffer.allocUnsafe(bytes);
      let off = 0;
      for (let k = from; k < to; k++) {
        const p = q[k];
        p.seq = this.nextSeq();
        p.sendId = id;
        p.msg.writeUInt32LE(p.seq, 8);
        if (to - from > 1) off += p.msg.copy(datagram, off);
        this.inflight.add(p);
        if (p.dump) this.dumpInFlight = true;
      }
      let answer: Buffer | ArrayBuffer | undefined;
      let failed = false;
      let failure: unknown;
      try {
        // A lone request or dump with nothing else in flight, on an inline socket: answered here
        // and now (a dump's later parts are made inside the recv() calls that read it).
        if (this.inline && to - from === 1 && this.inflight.size === 1 && this.transport.sendNow)
          answer = this.transport.sendNow(datagram, id);
        if (!answer) this.transport.send(datagram, id);
      } catch (e) {
        failed = true;
        failure = e;
      }
      // Sent (the transport copied it): only a dump's message is needed again (retryDump). The
      // rest are let go now, not when answered: a batch's messages are then not among what a
      // young-generation GC must copy while the batch is in flight. (Before any callback runs:
      // one may queue, flush and compact the queue.)
      for (let k = from; k < to; k++) if (!q[k].dump) q[k].msg = SENT;
      if (failed) {
        const errno = (failure as { errno?: number }).errno ?? 5;
        for (const p of q.slice(from, to)) this.settle(p, new NetlinkError(errno, label(p.op), (failure as Error).message));
      }
      if (answer) readRecords(answer, this.sink);
      if (this.queueHead > 1024 && this.queueHead * 2 > q.length) {
        q.splice(0, this.queueHead);
        this.queueHead = 0;
      }
    }
    if (this.queueHead === q.length && this.queueHead) q.length = this.queueHead = 0;
    this.updateRef();
  }

  private updateRef(): void {
    const want = this.held || this.inflight.size > 0 || this.queueHead < this.queue.length;
    if (want === this.referenced || this.closed) return;
    this.referenced = want;
    if (want) this.transport.ref();
    else this.transport.unref();
  }

  private settle(p: Pending, err: NetlinkError | null): void {
    if (!this.inflight.delete(p)) return;
    if (p.dump) this.dumpInFlight = false;
    p.cb(err, err || !p.parts ? NO_REPLIES : p.parts, p.tag);
  }

  private recvError(errno: number): void {
    // ENOBUFS: the kernel dropped messages. Replies that did arrive still settle their requests;
    // the ones lost are found when the send is drained. Any other receive error leaves the
    // socket's state unknown: fail what waits.
    if (errno !== 105 /* ENOBUFS */)
      for (const p of this.inflight.list()) this.settle(p, new NetlinkError(errno, label(p.op), 'receive failed'));
    if (this.listenerCount('error'))
      this.emit('error', new NetlinkError(errno, 'recv', errno === 105 ? 'the kernel dropped messages (ENOBUFS)' : undefined));
    this.flush();
  }

  private drained(sendId: number): void {
    // sendIds wrap at 2^32: compare as a distance.
    // A dump the kernel started has put its first part on the queue inside sendmsg(), so a
    // drained dump with nothing of its own was refused (its error dropped with the queue full).
    // `inflight` is in send order, so the walk stops at the first request of a later send:
    // usually the first one, every reply of this send having come before the drain.
    this.inflight.walk((p) => {
      if (((sendId - p.sendId) | 0) < 0) return false;
      if (!p.dump || !p.started)
        this.settle(p, new NetlinkError(105, label(p.op), 'the kernel dropped the reply: receive queue full (ENOBUFS)'));
      return true;
    });
    this.flush();
  }

  private sendFailed(sendId: number, errno: number): void {
    for (const p of this.inflight.list()) if (p.sendId === sendId) this.settle(p, new NetlinkError(errno, label(p.op), undefined));
    this.flush();
  }

  private datagram(buf: Buffer, start: number, end: number): void {
    let off = start;
    while (off + HEADER_LENGTH <= end) {
      const len = buf.readUInt32LE(off);
      if (len < HEADER_LENGTH || off + len > end) {
        if (this.listenerCount('error'))
          this.emit('error', new NetlinkError(74 /* EBADMSG */, 'recv', `truncated message at ${off - start}`));
        return;
      }
      const type = buf.readUInt16LE(off + 4);
      // The hot path: an ack, read in place.
      if (type === NLMSG_ERROR && len >= HEADER_LENGTH + 4 + HEADER_LENGTH && buf.readInt32LE(off + HEADER_LENGTH) === 0) {
        const p = this.inflight.get(buf.readUInt32LE(off + HEADER_LENGTH + 4 + 8));
        if (p) this.settle(p, null);
      } else {
        this.dispatch({
          type,
          flags: buf.readUInt16LE(off + 6),
          seq: buf.readUInt32LE(off + 8),
          port: buf.readUInt32LE(off + 12),
          data: buf.subarray(off + HEADER_LENGTH, off + len),
        });
      }
      off += align4(len);
    }
  }

  private dispatch(m: NetlinkMessage): void {
    if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) return;
    if (m.type === NLMSG_ERROR) {
      const ack = decodeAck(m);
      const p = this.inflight.get(ack.seq);
      if (!p) return;
      this.settle(p, ack.errno ? new NetlinkError(ack.errno, label(p.op), ack.extack, ack.badAttrOffset) : null);
      return;
    }
    const p = m.seq ? this.inflight.get(m.seq) : undefined;
    if (!p) {
      if (m.seq === 0 || m.port === 0) this.emit('notification', m);
      return;
    }
    p.started = true;
    if (m.type === NLMSG_DONE) {
      const ack = decodeAck(m);
      if (ack.errno) return this.settle(p, new NetlinkError(ack.errno, label(p.op), ack.extack));
      if (m.flags & NLM_F_DUMP_INTR) return this.retryDump(p);
      return this.settle(p, null);
    }
    if (p.onPart) p.onPart(m);
    else (p.parts ??= []).push(m);
  }

  /** The kernel's state changed under a dump: send it again, a bounded number of times. */
  private retryDump(p: Pending): void {
    if (p.tries + 1 >= DUMP_RETRIES) {
      this.settle(p, new NetlinkError(4 /* EINTR */, label(p.op), `dump interrupted by concurrent changes ${DUMP_RETRIES} times`));
      return;
    }
    this.inflight.delete(p);
    this.dumpInFlight = false;
    this.queue.splice(this.queueHead, 0, { ...p, seq: 0, parts: undefined, started: false, tries: p.tries + 1 });
    this.scheduleFlush();
  }
}
