/**
 * Tun/tap devices as Handle.createTap returns them: the device and, with keepFds, its open
 * queue fds (made by /dev/net/tun ioctls on the handle's tun worker; deleted and read back over
 * rtnetlink).
 */
import * as fs from 'fs';
import type { TapOptions } from './kinds/tunspec';

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
