/**
 * LibvirtError: a libvirt failure, read by the addon from virGetLastError() on the thread that
 * made the call. `code` is libvirt's name ('VIR_ERR_NO_DOMAIN'), `number` its value, `domain`
 * the error domain's number and `domainName` its name ('VIR_FROM_QEMU'), `level` 1 (warning)
 * or 2 (error). Tests and callers match on `code`.
 */
import { HostwireError } from '../errors';

export class LibvirtError extends HostwireError {
  readonly number: number;
  readonly domain: number;
  readonly domainName?: string;
  readonly level: number;
  /** The binding's method that failed, e.g. 'domainLookupByName'. */
  readonly operation?: string;
  constructor(code: string, message: string, number: number, domain: number, level: number, domainName?: string, operation?: string) {
    super(code, message);
    this.number = number;
    this.domain = domain;
    this.domainName = domainName;
    this.level = level;
    this.operation = operation;
  }
}

/** Turns an error from the addon into a LibvirtError (or passes other errors through). */
export function fromAddon(e: unknown, operation?: string): Error {
  const n = e as {
    libvirt?: unknown;
    code?: unknown;
    number?: unknown;
    domain?: unknown;
    domainName?: unknown;
    level?: unknown;
    message?: unknown;
  };
  if (n && n.libvirt === true && typeof n.code === 'string') {
    return new LibvirtError(
      n.code,
      String(n.message),
      Number(n.number),
      Number(n.domain),
      Number(n.level),
      typeof n.domainName === 'string' ? n.domainName : undefined,
      operation,
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Awaits an addon call, rethrowing its failure as a LibvirtError. */
export async function call<T>(operation: string, p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw fromAddon(e, operation);
  }
}
