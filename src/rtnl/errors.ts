import { getSystemErrorMap } from 'util';
import { HostwireError } from '../errors';

/** Node's errno table, made on the first error (not at every command's start). */
let systemErrors: Map<number, [string, string]> | undefined;

/**
 * 'EEXIST' for 17, and so on; 'E<n>' for numbers Node does not know. 95 is EOPNOTSUPP, as the
 * kernel source spells it (libuv calls it ENOTSUP; on Linux they are the same number).
 */
export function errnoName(errno: number): string {
  if (errno === 95) return 'EOPNOTSUPP';
  return (systemErrors ??= getSystemErrorMap()).get(-errno)?.[0] ?? `E${errno}`;
}

export function errnoMessage(errno: number): string {
  return (systemErrors ??= getSystemErrorMap()).get(-errno)?.[1] ?? `error ${errno}`;
}

/**
 * The kernel refused a netlink request. `code` is the errno's name ('EEXIST', 'ENODEV',
 * 'EBUSY' ...), `errno` its positive number, `operation` what was asked ('link set br0
 * master br0'), `extack` the kernel's extended-ack message when it gave one.
 */
export class NetlinkError extends HostwireError {
  readonly errno: number;
  readonly operation: string;
  readonly extack?: string;
  /** Offset of the offending attribute in the request, when the kernel says (NLMSGERR_ATTR_OFFS). */
  readonly badAttrOffset?: number;
  constructor(errno: number, operation: string, extack?: string, badAttrOffset?: number) {
    super(errnoName(errno), `${operation}: ${extack ?? errnoMessage(errno)}`);
    this.errno = errno;
    this.operation = operation;
    this.extack = extack;
    this.badAttrOffset = badAttrOffset;
  }
}
