/**
 * kinds 'macvlan' and 'macvtap': IFLA_MACVLAN_* (linux/if_link.h). A device with its own MAC on
 * a lower device (IFLA_LINK, `link DEV`), in one of the modes; macvtap adds a character device
 * (/dev/tapN) whose queues qemu reads. Decoded as `ip -d -j` shows it.
 */
import { ValidationError } from '../../errors';
import { decodeTable, table } from '../attrs';
import type { MessageWriter } from '../wire';
import { readIpWords, type IpWord } from './ipwords';
import type { LinkKind } from './kind';

export const IFLA_MACVLAN = table('IFLA_MACVLAN_', [
  ['IFLA_MACVLAN_MODE', 'u32'],
  ['IFLA_MACVLAN_FLAGS', 'u16'],
  ['IFLA_MACVLAN_MACADDR_MODE', 'u32'],
  ['IFLA_MACVLAN_MACADDR', 'mac'],
  ['IFLA_MACVLAN_MACADDR_DATA', 'binary'],
  ['IFLA_MACVLAN_MACADDR_COUNT', 'u32'],
  ['IFLA_MACVLAN_BC_QUEUE_LEN', 'u32'],
  ['IFLA_MACVLAN_BC_QUEUE_LEN_USED', 'u32'],
  ['IFLA_MACVLAN_BC_CUTOFF', 'u32'],
]);

/** enum macvlan_mode. */
export const MACVLAN_MODES = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const;
export type MacvlanMode = keyof typeof MACVLAN_MODES;
const MACVLAN_FLAG_NOPROMISC = 1;

export interface MacvlanOptions {
  /** The mode (default vepa, as the kernel). */
  mode?: MacvlanMode;
  /** passthru only: leave the lower device's promiscuity alone (MACVLAN_FLAG_NOPROMISC). */
  nopromisc?: boolean;
}

function check(options: object): MacvlanOptions {
  const o = options as MacvlanOptions & { link?: unknown };
  if (o.link === undefined)
    throw new ValidationError('EINVALIDOPTION', 'link: a macvlan or macvtap needs its lower device (link DEV)', 'link');
  const out: MacvlanOptions = {};
  if (o.mode !== undefined) {
    if (!Object.hasOwn(MACVLAN_MODES, o.mode))
      throw new ValidationError(
        'EINVALIDOPTION',
        `mode: '${String(o.mode)}' is not one of ${Object.keys(MACVLAN_MODES).join(', ')}`,
        'mode',
      );
    out.mode = o.mode;
  }
  if (o.nopromisc !== undefined) {
    if (typeof o.nopromisc !== 'boolean') throw new ValidationError('EINVALIDOPTION', 'nopromisc: true or false', 'nopromisc');
    if (o.nopromisc && out.mode !== 'passthru')
      throw new ValidationError('EINVALIDOPTION', 'nopromisc: only in passthru mode', 'nopromisc');
    out.nopromisc = o.nopromisc;
  }
  return out;
}

function encodeData(w: MessageWriter, options: object): void {
  const o = options as MacvlanOptions;
  if (o.mode !== undefined) w.u32(1, MACVLAN_MODES[o.mode]);
  if (o.nopromisc) w.u16(2, MACVLAN_FLAG_NOPROMISC);
}

/** IFLA_INFO_DATA as `ip -d -j` shows it: mode by name, flags, the source-MAC table's size. */
export function decodeMacvlanData(buf: Buffer): Record<string, unknown> {
  const raw = decodeTable(IFLA_MACVLAN, buf);
  const out: Record<string, unknown> = { ...raw };
  const mode = Object.entries(MACVLAN_MODES).find(([, v]) => v === raw.mode);
  if (mode) out.mode = mode[0];
  if (raw.flags !== undefined) out.nopromisc = ((raw.flags as number) & MACVLAN_FLAG_NOPROMISC) !== 0;
  delete out.flags;
  return out;
}

const IP: Record<string, IpWord> = {
  mode: {
    key: 'mode',
    value: (raw: string, w: string) => {
      if (!Object.hasOwn(MACVLAN_MODES, raw))
        throw new ValidationError('EINVALIDOPTION', `${w}: '${raw}' is not one of ${Object.keys(MACVLAN_MODES).join(', ')}`, w);
      return raw;
    },
  },
  nopromisc: { key: 'nopromisc', flag: true },
};

const make = (kind: string): LinkKind => ({
  kind,
  data: IFLA_MACVLAN,
  decodeData: decodeMacvlanData,
  check,
  encodeData,
  fromIp: (words) => readIpWords(kind, words, IP),
});

export const macvlan = make('macvlan');
export const macvtap = make('macvtap');
