/**
 * Input checks made before any request is sent: a bad name or address is a ValidationError
 * with a stable code, and nothing reaches the kernel.
 */
import { ValidationError } from '../errors';
import { IFNAMSIZ } from './constants';

/**
 * Interface names as the kernel's dev_valid_name() accepts them: 1-15 bytes, not '.' or '..',
 * no '/', ':' is allowed, no whitespace or control characters.
 */
export function checkIfName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new ValidationError('EINVALIDNAME', `${field}: an interface name is required`, field);
  const bytes = Buffer.byteLength(name);
  if (bytes >= IFNAMSIZ)
    throw new ValidationError(
      'EINVALIDNAME',
      `${field}: '${printable(name)}' is ${bytes} bytes; interface names have at most ${IFNAMSIZ - 1}`,
      field,
    );
  if (name === '.' || name === '..') throw new ValidationError('EINVALIDNAME', `${field}: '${name}' is not a valid interface name`, field);
  if (!plainName(name))
    throw new ValidationError('EINVALIDNAME', `${field}: '${printable(name)}' contains '/', ':', whitespace or a control character`, field);
  return name;
}

/**
 * No '/', ':', whitespace or control character. ASCII names (nearly all) are checked by code
 * point, allocating nothing (a batch checks thousands); others by the Unicode regex.
 */
function plainName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return !/[/:\s\p{Cc}]/u.test(name);
    if (c <= 0x20 || c === 0x7f || c === 0x2f || c === 0x3a) return false;
  }
  return true;
}

/** A link by name or by index (a positive integer). */
export function checkDev(dev: unknown, field = 'dev'): string | number {
  if (typeof dev === 'number') {
    if (!Number.isInteger(dev) || dev <= 0) throw new ValidationError('EINVALIDINDEX', `${field}: ${dev} is not an interface index`, field);
    return dev;
  }
  return checkIfName(dev, field);
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** A unicast Ethernet address, aa:bb:cc:dd:ee:ff (all zeros and multicast refused). */
export function checkMac(mac: unknown, field = 'address'): string {
  if (typeof mac !== 'string' || !MAC_RE.test(mac))
    throw new ValidationError('EINVALIDMAC', `${field}: '${printable(String(mac))}' is not a MAC address (aa:bb:cc:dd:ee:ff)`, field);
  const first = parseInt(mac.slice(0, 2), 16);
  if (first & 1) throw new ValidationError('EINVALIDMAC', `${field}: ${mac} is a multicast address`, field);
  if (/^(00:){5}00$/.test(mac)) throw new ValidationError('EINVALIDMAC', `${field}: the all-zero address is not usable`, field);
  return mac.toLowerCase();
}

/** MTU: 68 (IPv4 minimum) to 65535 (the kernel's limit for bridges, veth and taps). */
export function checkMtu(mtu: unknown, field = 'mtu'): number {
  const n = typeof mtu === 'string' && /^\d+$/.test(mtu) ? Number(mtu) : mtu;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 68 || n > 65535)
    throw new ValidationError('EINVALIDMTU', `${field}: '${String(mtu)}' is not an MTU (68-65535)`, field);
  return n;
}

/** A uid or gid: an integer 0 .. 2^32-2. */
export function checkId(id: unknown, field: string): number {
  const n = typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xfffffffe)
    throw new ValidationError('EINVALIDID', `${field}: '${String(id)}' is not a numeric id`, field);
  return n;
}

/** Namespace names as `ip netns add` accepts them: a file name under /run/netns. */
export function checkNetnsName(name: unknown, field = 'netns'): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    Buffer.byteLength(name) > 255 ||
    name === '.' ||
    name === '..' ||
    /[/\p{Cc}]/u.test(name)
  )
    throw new ValidationError('EINVALIDNETNS', `${field}: '${printable(String(name))}' is not a valid namespace name`, field);
  return name;
}

/** An integer 0..max ('EINVALIDOPTION' naming the field otherwise). */
export function checkUint(v: unknown, max: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw new ValidationError('EINVALIDOPTION', `${field}: '${String(v)}' is not an integer 0-${max}`, field);
  return v;
}

/** true or false ('EINVALIDOPTION' naming the field otherwise). */
export function checkBool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new ValidationError('EINVALIDOPTION', `${field}: '${String(v)}' is not true or false`, field);
  return v;
}

/** IFLA_IFALIAS: a string of at most IFALIASZ - 1 (255) bytes, no NUL. */
export function checkAlias(v: unknown, field = 'alias'): string {
  if (typeof v !== 'string' || Buffer.byteLength(v) > 255 || v.includes('\0'))
    throw new ValidationError('EINVALIDOPTION', `${field}: not a string of at most 255 bytes`, field);
  return v;
}

/** The string with control characters shown as \xNN, for error messages. */
export function printable(s: string): string {
  return s.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
