/**
 * The table of the `hostwire` command: each noun, the section of `hostwire help` that lists it,
 * and how to load its module (one file per noun, each declaring its verbs). Only the module of
 * the noun being run is loaded: a kernel verb never loads libvirt or the XML parser (start-up
 * time matters). `help` loads them all, to print each verb's usage from its declaration.
 */
import { usageError } from './args';
import type { CliContext, Command } from './context';
import { execute, findVerb, type Noun, type Verb } from './verb';

const KERNEL = 'links and bridges (rtnetlink; -n NETNS works in a named namespace):';
const STATE = 'declarative state (-n NETNS works in a named namespace):';
const LIBVIRT = [
  'libvirt (--uri URI, else LIBVIRT_DEFAULT_URI, else qemu:///system; a remote URI that asks for credentials,',
  '  qemu+tcp://HOST/system with SASL, gets them from $HOSTWIRE_AUTH_FILE (mode 0600, lines `username = NAME`',
  '  and `password = SECRET`), else $HOSTWIRE_USERNAME and $HOSTWIRE_PASSWORD; never from the command line):',
].join('\n');

interface Entry {
  /** The heading of `hostwire help` it is listed under. */
  section: string;
  load(): Noun;
}

/** Every noun, in the order of `hostwire help`. */
export const NOUNS: Readonly<Record<string, Entry>> = memoized({
  link: { section: KERNEL, load: () => (require('./link') as typeof import('./link')).noun },
  bridge: { section: KERNEL, load: () => (require('./bridge') as typeof import('./bridge')).noun },
  tap: { section: KERNEL, load: () => (require('./tap') as typeof import('./tap')).noun },
  netns: { section: KERNEL, load: () => (require('./netns') as typeof import('./netns')).noun },
  addr: { section: KERNEL, load: () => (require('./addr') as typeof import('./addr')).noun },
  route: { section: KERNEL, load: () => (require('./route') as typeof import('./route')).noun },
  neigh: { section: KERNEL, load: () => (require('./neigh') as typeof import('./neigh')).noun },
  fdb: { section: KERNEL, load: () => (require('./fdb') as typeof import('./fdb')).noun },
  qos: { section: KERNEL, load: () => (require('./qos') as typeof import('./qos')).noun },
  firewall: { section: KERNEL, load: () => (require('./firewall') as typeof import('./firewall')).noun },
  batch: { section: KERNEL, load: () => (require('./batch') as typeof import('./batch')).noun },
  monitor: { section: KERNEL, load: () => (require('./monitor') as typeof import('./monitor')).noun },
  'show-state': { section: STATE, load: () => (require('./show-state') as typeof import('./show-state')).noun },
  apply: { section: STATE, load: () => (require('./apply') as typeof import('./apply')).noun },
  confirm: { section: STATE, load: () => (require('./checkpoint') as typeof import('./checkpoint')).confirmNoun },
  rollback: { section: STATE, load: () => (require('./checkpoint') as typeof import('./checkpoint')).rollbackNoun },
  net: { section: LIBVIRT, load: () => (require('./net') as typeof import('./net')).noun },
  domain: { section: LIBVIRT, load: () => (require('./domain') as typeof import('./domain')).noun },
  event: { section: LIBVIRT, load: () => (require('./event') as typeof import('./event')).noun },
});

/**
 * Each entry's load() run once: a noun is looked up for every line of `batch -`, and a bundled
 * require() copies the module's exports into a fresh object on every call.
 */
function memoized(table: Record<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(
    Object.entries(table).map(([name, { section, load }]) => {
      let noun: Noun | undefined;
      return [name, { section, load: () => (noun ??= load()) }];
    }),
  );
}

/** The verb a command line names (`link set ...`), and the words after it. Throws EUSAGE. */
export function lookup(words: readonly string[]): { verb: Verb; rest: string[] } {
  const [noun, ...args] = words;
  if (noun === undefined || !Object.hasOwn(NOUNS, noun)) throw usageError(`unknown verb '${noun ?? ''}' (try: hostwire help)`);
  return findVerb(noun, NOUNS[noun].load(), args);
}

/** Each noun as a Command: `verbs.net(ctx, ['list', '--all'])` runs `hostwire net list --all`. */
export const verbs: Readonly<Record<string, Command>> = Object.fromEntries(
  Object.keys(NOUNS).map((noun) => [
    noun,
    (ctx: CliContext, args: string[]) => {
      const { verb, rest } = lookup([noun, ...args]);
      return execute(ctx, verb.parse(rest));
    },
  ]),
);

/** The lines of `hostwire help` after the first: every verb's usage, under its section. */
export function helpLines(): string[] {
  const lines: string[] = [];
  let section = '';
  for (const { section: s, load } of Object.values(NOUNS)) {
    if (s !== section) lines.push((section = s));
    for (const v of load().verbs) lines.push(`  ${v.usage}${v.summary ? `    (${v.summary})` : ''}`);
  }
  return lines;
}
