/**
 * The one argument parser of the `hostwire` command: the global options, every verb, and each
 * line of a batch file go through parse(). A verb declares what it takes as a record of
 * arguments, in the order its usage line shows them:
 *
 *     pos('DEV', { keyword: 'dev' })   a positional word (ip also takes it as `dev DEV`)
 *     flag('nomaster'), flag('--all')  a word on its own: ip's `nomaster`, virsh's `--all`
 *     choice('up', 'down')             one of several words: which one was given
 *     value('master', 'BR')            a word and its value: ip's `master BR`, GNU's `--bridge BR`
 *
 * The spelling says the style: ip keywords are bare words, virsh and GNU options start with
 * `--`; both mix freely with positionals. A word starting with '-' that the verb does not
 * declare is refused (`--` ends the options, for a positional that starts with '-').
 *
 * Bad input is refused with a HostwireError 'EUSAGE' before anything is sent to the kernel or
 * libvirt, the message naming what was wrong and then the verb's usage line, which comes from
 * the same declaration (usageLine()).
 */
import { HostwireError } from '../errors';

/** One argument of a verb. T is what the verb gets: undefined when an optional one is absent. */
export interface Arg<T> {
  readonly kind: 'pos' | 'flag' | 'value' | 'tail';
  /** The words that introduce it: a flag's spellings, a value's keywords, a positional's optional keywords. */
  readonly names: readonly string[];
  /** The placeholder of the value in the usage line (BR, N, on|off ...); a choice's words. */
  readonly meta?: string;
  readonly required: boolean;
  /** A word allowed between the keyword and its value, as in ip's `peer name PEER`. */
  readonly filler?: string;
  /** Accepted, but left out of the usage line. */
  readonly hidden?: boolean;
  /** The value from what was given (a flag: the word given; else its value), and the word that named it. */
  readonly take: (given: string | undefined, name: string) => T;
}

/** What a verb declares it takes. */
export type Spec = Record<string, Arg<unknown>>;

/** What parse() gives a verb: one value per declared argument, typed by the declaration. */
export type Values<S extends Spec> = { -readonly [K in keyof S]: S[K] extends Arg<infer T> ? T : never };

/** Turns a given value into what the verb gets; refuse() when it is not one. */
export type Conv<T> = (raw: string, name: string) => T;

/**
 * Thrown by converters and by a verb's own checks: what was wrong. The parser turns it into
 * the one usage error (usageError), with the verb's usage line.
 */
export class Refusal extends Error {}

/** Refuses the input: `detail` says what was wrong. */
export function refuse(detail: string): never {
  throw new Refusal(detail);
}

/** The one shape of a usage error: what was wrong, then how the verb is used. */
export function usageError(detail: string, usage?: string): HostwireError {
  return new HostwireError('EUSAGE', usage === undefined ? detail : `${detail} (usage: ${usage})`);
}

// ---- declaring arguments ----

const list = (names: string | readonly string[]): readonly string[] => (typeof names === 'string' ? [names] : names);

/** A positional word, required unless `optional`; `keyword` words may also introduce it (ip's `dev DEV`). */
export function pos(meta: string, o?: { keyword?: string | string[]; optional?: false }): Arg<string>;
export function pos(meta: string, o: { keyword?: string | string[]; optional: true }): Arg<string | undefined>;
export function pos(meta: string, o: { keyword?: string | string[]; optional?: boolean } = {}): Arg<string | undefined> {
  const required = !o.optional;
  return {
    kind: 'pos',
    names: o.keyword === undefined ? [] : list(o.keyword),
    meta,
    required,
    take: (given) => (given === undefined && required ? refuse(`missing ${meta}`) : given),
  };
}

/** A word on its own, in any of its spellings: true when given. */
export function flag(...names: string[]): Arg<boolean> {
  return { kind: 'flag', names, required: false, take: (given) => given !== undefined };
}

/** One of several words (`up` or `down`, `-4` or `-6`): the one given last, else undefined. */
export function choice<W extends string>(...words: W[]): Arg<W | undefined> {
  return { kind: 'flag', names: words, meta: words.join('|'), required: false, take: (given) => given as W | undefined };
}

/** Spellings of a GNU-style option that ip-style callers also write bare: --stp, -stp, stp. */
export function loose(name: string): string[] {
  return [`--${name}`, `-${name}`, name];
}

interface ValueOptions {
  filler?: string;
  hidden?: boolean;
}

/**
 * A keyword or option and its value (a string, or what `conv` makes of it); undefined when
 * absent unless `required`.
 */
export function value(names: string | string[], meta: string, o?: ValueOptions & { required?: false }): Arg<string | undefined>;
export function value(names: string | string[], meta: string, o: ValueOptions & { required: true }): Arg<string>;
export function value<T>(
  names: string | string[],
  meta: string,
  conv: Conv<T>,
  o?: ValueOptions & { required?: false },
): Arg<T | undefined>;
export function value<T>(names: string | string[], meta: string, conv: Conv<T>, o: ValueOptions & { required: true }): Arg<T>;
export function value(
  names: string | string[],
  meta: string,
  convOrOptions?: Conv<unknown> | (ValueOptions & { required?: boolean }),
  options?: ValueOptions & { required?: boolean },
): Arg<unknown> {
  const conv: Conv<unknown> = typeof convOrOptions === 'function' ? convOrOptions : (raw) => raw;
  const o = (typeof convOrOptions === 'function' ? options : convOrOptions) ?? {};
  const required = o.required === true;
  const ns = list(names);
  return {
    kind: 'value',
    names: ns,
    meta,
    required,
    filler: o.filler,
    hidden: o.hidden,
    take: (given, name) => {
      if (given !== undefined) return conv(given, name);
      return required ? refuse(`${ns[0]} ${meta} is required`) : undefined;
    },
  };
}

/**
 * A keyword that takes every word after it (`type KIND ARGS...`): what comes after is another
 * parser's (a link kind's ip words). The verb gets the words, or undefined when absent.
 */
export function tail(name: string, meta: string, o: { required?: boolean } = {}): Arg<string[] | undefined> {
  const required = o.required === true;
  return {
    kind: 'tail',
    names: [name],
    meta,
    required,
    take: (given) => (given !== undefined ? given.split('\u0000') : required ? refuse(`${name} ${meta} is required`) : undefined),
  };
}

// ---- converters ----

/** A number as ip takes one (digits, an optional fraction); range checks are the library's. */
export const number: Conv<number> = (raw, name) =>
  /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : refuse(`${name} needs a number, got '${raw}'`);

/** A whole number (a route table, a metric). */
export const integer: Conv<number> = (raw, name) => (/^\d+$/.test(raw) ? Number(raw) : refuse(`${name} takes a number, got '${raw}'`));

/** A number of seconds above zero. */
export const seconds: Conv<number> = (raw, name) => {
  const v = Number(raw);
  return Number.isFinite(v) && v > 0 ? v : refuse(`${name} needs a positive number of seconds`);
};

/** on or off, as ip also spells them (1/0, yes/no). */
export const onOff: Conv<boolean> = (raw, name) => {
  if (raw === 'on' || raw === '1' || raw === 'yes') return true;
  if (raw === 'off' || raw === '0' || raw === 'no') return false;
  return refuse(`${name} takes on or off`);
};

/** One of a fixed set of words. */
export function oneOf<W extends string>(words: readonly W[]): Conv<W> {
  const expected = words.length === 2 ? words.join(' or ') : `one of ${words.join(', ')}`;
  return (raw, name) => ((words as readonly string[]).includes(raw) ? (raw as W) : refuse(`${name} takes ${expected}`));
}

// ---- parsing ----

export interface ParseOptions {
  /** The usage line for errors (usageLine()), or what makes it when an error needs it. */
  usage?: string | (() => string);
  /** Stop at the first word that is not a declared option and return the rest (the global options). */
  stopAtPositional?: boolean;
}

/** Checks a declaration once: every spelling names one argument. Throws a plain Error (a bug, not bad input). */
export function checkSpec(spec: Spec, what: string): void {
  const seen = new Set<string>();
  for (const [key, a] of Object.entries(spec))
    for (const n of a.names) {
      if (seen.has(n)) throw new Error(`${what}: '${n}' declared twice (${key})`);
      seen.add(n);
    }
}

/**
 * The words after the verb, as the declared values. Positionals fill the positional slots in
 * order, skipping those given by keyword; a repeated flag or value keeps the last one. Throws
 * EUSAGE (with `usage`).
 */
export function parse<S extends Spec>(spec: S, words: readonly string[], o: ParseOptions = {}): { values: Values<S>; rest: string[] } {
  try {
    return parseWords(spec, words, o);
  } catch (e) {
    throw e instanceof Refusal ? usageError(e.message, typeof o.usage === 'function' ? o.usage() : o.usage) : e;
  }
}

/** A declaration's keys, its spellings and its positional slots, worked out once per declaration (`batch -` parses a line each time). */
interface Layout {
  keys: string[];
  byName: Map<string, string>;
  slots: string[];
}
const layouts = new WeakMap<Spec, Layout>();

function layoutOf(spec: Spec): Layout {
  let l = layouts.get(spec);
  if (!l) {
    const keys = Object.keys(spec);
    const byName = new Map<string, string>();
    for (const k of keys) for (const n of spec[k].names) byName.set(n, k);
    layouts.set(spec, (l = { keys, byName, slots: keys.filter((k) => spec[k].kind === 'pos') }));
  }
  return l;
}

function parseWords<S extends Spec>(spec: S, words: readonly string[], o: ParseOptions): { values: Values<S>; rest: string[] } {
  const layout = layoutOf(spec);
  const keys = layout.keys as (keyof S & string)[];
  const byName = layout.byName as Map<string, keyof S & string>;
  const slots = layout.slots as (keyof S & string)[];
  const given = new Map<string, { raw: string; name: string }>();
  const bare: string[] = [];
  let optionsEnd = false;
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    const key = optionsEnd ? undefined : byName.get(w);
    if (key !== undefined) {
      const a = spec[key];
      if (a.kind === 'flag') {
        given.set(key, { raw: w, name: w });
        continue;
      }
      if (a.kind === 'tail') {
        if (i + 1 >= words.length) refuse(`${w} needs a value`);
        given.set(key, { raw: words.slice(i + 1).join('\u0000'), name: w });
        i = words.length;
        break;
      }
      if (a.filler !== undefined && words[i + 1] === a.filler && i + 2 < words.length) i++;
      if (i + 1 >= words.length) refuse(`${w} needs a value`);
      given.set(key, { raw: words[++i], name: w });
      continue;
    }
    if (!optionsEnd && w.length > 1 && w.startsWith('-')) {
      if (o.stopAtPositional) break;
      if (w === '--') {
        optionsEnd = true;
        continue;
      }
      refuse(`unknown option '${w}'`);
    }
    if (o.stopAtPositional) break;
    bare.push(w);
  }
  // Positionals fill, in order, the slots their keywords did not (`y dev eth0`: DEV is eth0).
  const free = slots.filter((k) => !given.has(k));
  if (bare.length > free.length) refuse(`unexpected '${bare[free.length]}'`);
  bare.forEach((w, j) => given.set(free[j], { raw: w, name: spec[free[j]].meta ?? free[j] }));
  const values = {} as Values<S>;
  for (const k of keys) {
    const g = given.get(k);
    values[k] = spec[k].take(g?.raw, g?.name ?? spec[k].names[0] ?? spec[k].meta ?? k) as Values<S>[typeof k];
  }
  return { values, rest: words.slice(i) };
}

/** The usage of a declaration: `DEV [master BR] [up|down] [--force]`, from its arguments in order. */
export function usageLine(spec: Spec): string {
  const parts: string[] = [];
  for (const a of Object.values(spec)) {
    if (a.hidden) continue;
    const text = a.kind === 'pos' ? (a.meta as string) : a.kind === 'flag' ? (a.meta ?? a.names[0]) : `${a.names[0]} ${a.meta}`;
    parts.push(a.required ? text : `[${text}]`);
  }
  return parts.join(' ');
}

/** Splits a batch line into words: '...' and "..." quote, # starts a comment. */
export function splitLine(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(#.*$)|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[3] !== undefined) break;
    words.push(m[1] ?? m[2] ?? m[4]);
  }
  return words;
}
