/**
 * Tun/tap devices: created through the addon (/dev/net/tun ioctls, in the handle's namespace),
 * deleted and read back over rtnetlink.
 */
import * as fs from 'fs';
import { SyscallError } from '../errors';
import type { TunResultNative, TunSpecNative } from '../native';
import type { Handle } from './handle';
import { tunSpec, type TapOptions } from './kinds/tunspec';

export type { TapOptions };

/** A queue fd of a tap, kept open for the caller (to pass to qemu). Closed by close() or when dropped. */
export class TapQueue {
  private _fd: number;
  constructor(fd: number) {
    this._fd = fd;
    queueRegistry.register(this, fd, this);
  }
  get fd(): number {
    return this._fd;
  }
  close(): void {
    if (this._fd < 0) return;
    queueRegistry.unregister(this);
    fs.closeSync(this._fd);
    this._fd = -1;
  }
}

const queueRegistry = new FinalizationRegistry<number>((fd) => {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed by someone else
  }
});

export interface TapDevice {
  name: string;
  index: number;
  /** Open queues, only with keepFds. */
  queues: TapQueue[];
}

function toResult(spec: TunSpecNative, r: TunResultNative): TapDevice | SyscallError {
  if (r.code !== undefined) return new SyscallError(r.code, r.errno, r.syscall, `tap add ${spec.name}: ${r.message} (${r.syscall})`);
  return { name: spec.name, index: r.ifindex, queues: r.fds.map((fd) => new TapQueue(fd)) };
}

/** Creates many devices in one trip to the handle's tun worker; one result (device or error) per spec. */
export async function createTunDevices(h: Handle, specs: TunSpecNative[]): Promise<Array<TapDevice | SyscallError>> {
  if (!specs.length) return [];
  let results: TunResultNative[];
  try {
    results = await h.tunWorker().create(specs);
  } catch (e) {
    const n = e as { code: string; errno: number; syscall: string; message: string };
    const what = n.syscall === 'setns' || n.syscall === 'open' ? `open netns ${h.netns}: ${n.message}` : n.message;
    const err = new SyscallError(n.code, n.errno, n.syscall, what);
    return specs.map(() => err);
  }
  return results.map((r, i) => toResult(specs[i], r));
}

/**
 * Creates a persistent tap (or tun) device with owner, group, flags, MAC and MTU, all applied
 * before it is used. Fails with EBUSY when the name is taken, leaving that device untouched.
 * Equivalent to: ip tuntap add dev NAME mode tap [user U] [group G] [multi_queue] [vnet_hdr] && ip link set NAME address MAC mtu N
 */
export async function createTap(h: Handle, name: string, options: TapOptions = {}): Promise<TapDevice> {
  const [r] = await createTunDevices(h, [tunSpec(name, options)]);
  if (r instanceof Error) throw r;
  return r;
}
