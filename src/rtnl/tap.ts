/**
 * Tun/tap devices as Handle.createTap returns them: the device and, with keepFds, its open
 * queue fds (made by /dev/net/tun ioctls on the handle's tun worker; deleted and read back over
 * rtnetlink).
 *
 * Ownership of a queue fd. A TapQueue owns its fd until the caller closes it (close()) or takes
 * it (take(), after which the caller owns the number and must close it, for example once qemu
 * has it). Nothing closes it behind the caller's back: not the garbage collector, not the
 * handle. A fd number that was handed to qemu and whose TapQueue was dropped therefore stays
 * open and is never reused for something else by surprise; an application that drops TapQueues
 * without closing or taking them leaks those fds, which is the visible, fixable failure.
 */
import * as fs from 'fs';
import { HostwireError } from '../errors';
import type { TapOptions } from './kinds/tunspec';

export type { TapOptions };

/** A queue fd of a tap or macvtap, kept open for the caller (to pass to qemu). */
export class TapQueue {
  private _fd: number;
  constructor(fd: number) {
    this._fd = fd;
  }
  /** The fd number, while this TapQueue owns it (-1 once closed or taken). */
  get fd(): number {
    return this._fd;
  }
  /** Closes the fd (once; later calls do nothing). */
  close(): void {
    if (this._fd < 0) return;
    const fd = this._fd;
    this._fd = -1;
    fs.closeSync(fd);
  }
  /** Gives up ownership: returns the fd, which the caller now closes. EBADF if already closed or taken. */
  take(): number {
    if (this._fd < 0) throw new HostwireError('EBADF', 'this queue was already closed or taken');
    const fd = this._fd;
    this._fd = -1;
    return fd;
  }
}

export interface TapDevice {
  name: string;
  index: number;
  /** Open queues, only with keepFds (and always from openMacvtap). */
  queues: TapQueue[];
}
