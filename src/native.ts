/**
 * Typed loader for the kernel addon (native/kernel, built by the bootstrap with node-gyp).
 * Everything here crosses straight into the kernel; validation and defaults live in the
 * callers (src/rtnl, src/netns.ts).
 */
import * as path from 'path';

export interface NlSocketOptions {
  protocol?: number;
  /** Path of a namespace file (/run/netns/NAME): the socket is created inside it. */
  netns?: string;
  rcvbuf?: number;
  sndbuf?: number;
  extAck?: boolean;
  capAck?: boolean;
  strictCheck?: boolean;
}

export interface NativeNlSocket {
  readonly port: number;
  readonly fd: number;
  /** Queues one datagram for the socket's own thread (see native/kernel/nlsock.cc). */
  send(datagram: Uint8Array, sendId: number): void;
  close(): void;
  ref(): void;
  unref(): void;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  getRecvBufferSize(): number;
}

export interface TunSpecNative {
  name: string;
  flags: number;
  owner?: number;
  group?: number;
  queues?: number;
  mtu?: number;
  mac?: Buffer;
  keepFds?: boolean;
  persist?: boolean;
}

export type TunResultNative =
  { ifindex: number; fds: number[]; code?: undefined } | { code: string; errno: number; syscall: string; message: string };

/** A thread of the addon's that stays in one namespace and makes tun/tap devices there. */
export interface NativeTunWorker {
  create(specs: TunSpecNative[]): Promise<TunResultNative[]>;
  /** Finishes the job under way, fails queued ones with EBADF, ends the thread. */
  close(): void;
}

export interface KernelAddon {
  NlSocket: new (opts: NlSocketOptions, onRecords: (records: Buffer) => void) => NativeNlSocket;
  TunWorker: new (netns: string | null) => NativeTunWorker;
  netnsAdd(dir: string, file: string): void;
  netnsDel(file: string): void;
}

let kernel: KernelAddon | undefined;

/** Finds native/build/Release/NAME.node above this file (from src/ or dist/src/). */
export function addonPath(name: string): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'native', 'build', 'Release', `${name}.node`);
    try {
      require.resolve(candidate);
      return candidate;
    } catch {
      dir = path.dirname(dir);
    }
  }
  return path.join(__dirname, '..', '..', 'native', 'build', 'Release', `${name}.node`);
}

export function kernelAddon(): KernelAddon {
  if (!kernel) kernel = require(addonPath('hostwire_kernel')) as KernelAddon;
  return kernel;
}
