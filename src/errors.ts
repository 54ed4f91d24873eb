/**
 * Errors, shaped like Node's own: a stable string `code` that callers and tests match on
 * ('EEXIST', 'VIR_ERR_NO_DOMAIN', 'EINVALIDNAME'), `errno` and `syscall` only for syscall
 * failures. Subsystems add what they know (netlink: the operation and the kernel's extended-ack
 * message; libvirt: its numeric code, domain and level).
 */
export class HostwireError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
  /** A plain object for `--json` output and logs. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [k, v] of Object.entries(this)) if (v !== undefined) out[k] = v;
    return out;
  }
}

/** Bad input, refused before anything was sent to the kernel or to libvirt. */
export class ValidationError extends HostwireError {
  /** What was wrong: 'name', 'address', 'mtu' ... */
  readonly field?: string;
  constructor(code: string, message: string, field?: string) {
    super(code, message);
    this.field = field;
  }
}

/** A system call failed (open, ioctl, setns ...): Node's shape, errno positive. */
export class SyscallError extends HostwireError {
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  constructor(code: string, errno: number, syscall: string, message: string, path?: string) {
    super(code, message);
    this.errno = errno;
    this.syscall = syscall;
    this.path = path;
  }
}

/** Wraps an error thrown by the addon ({code, errno, syscall}) into a SyscallError. */
export function fromNative(e: unknown, path?: string): Error {
  const n = e as { code?: unknown; errno?: unknown; syscall?: unknown; message?: unknown };
  if (n && typeof n.code === 'string' && typeof n.errno === 'number' && typeof n.syscall === 'string') {
    const msg = path ? `${String(n.message)} '${path}'` : String(n.message);
    return new SyscallError(n.code, n.errno, n.syscall, msg, path);
  }
  return e instanceof Error ? e : new Error(String(e));
}
