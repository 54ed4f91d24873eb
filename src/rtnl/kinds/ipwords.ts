/**
 * Reading ip's words after `type KIND` for a kind's options: each kind lists its keywords
 * (`id N`, `remote ADDR`, `nolearning`) and what they set. Unknown words are a ValidationError
 * naming the word, before anything is sent.
 */
import { ValidationError } from '../../errors';

/** What a keyword does: takes the next word (converted), or is a flag setting a fixed value. */
export type IpWord =
  | { key: string; value: (raw: string, word: string) => unknown }
  | { key: string; flag: unknown }
  | { key: string; values: number; take: (raw: string[], word: string) => unknown };

export function readIpWords(kind: string, words: readonly string[], table: Record<string, IpWord>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const d = Object.hasOwn(table, w) ? table[w] : undefined;
    if (!d) throw new ValidationError('EUSAGE', `type ${kind}: unknown word '${w}' (one of ${Object.keys(table).join(', ')})`, w);
    if ('flag' in d) out[d.key] = d.flag;
    else if ('take' in d) {
      if (i + d.values >= words.length) throw new ValidationError('EUSAGE', `type ${kind}: ${w} needs ${d.values} values`, w);
      out[d.key] = d.take(words.slice(i + 1, i + 1 + d.values), w);
      i += d.values;
    } else {
      if (i + 1 >= words.length) throw new ValidationError('EUSAGE', `type ${kind}: ${w} needs a value`, w);
      out[d.key] = d.value(words[++i], w);
    }
  }
  return out;
}

/** A whole number as ip takes one (decimal, or 0x hex). */
export function ipInt(raw: string, word: string): number {
  if (!/^(\d+|0x[0-9a-f]+)$/i.test(raw)) throw new ValidationError('EINVALIDOPTION', `${word}: '${raw}' is not a number`, word);
  return Number(raw);
}

/** on/off (1/0, yes/no). */
export function ipBool(raw: string, word: string): boolean {
  if (['on', '1', 'yes', 'true'].includes(raw)) return true;
  if (['off', '0', 'no', 'false'].includes(raw)) return false;
  throw new ValidationError('EINVALIDOPTION', `${word}: '${raw}' is not on or off`, word);
}

export const str = (raw: string) => raw;
