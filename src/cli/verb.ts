/**
 * A verb of the `hostwire` command, declared in one place: its words ('link set'), what it
 * takes (src/cli/args.ts), whether a batch file may use it, the guard that checks it, and what it
 * does. A verb either describes a kernel change (a BatchOp, sent by the batch engine exactly as
 * the same line in a batch file would be) or runs on its own (queries, namespaces, libvirt, the
 * workflow steps).
 */
import type { BatchOp } from '../rtnl/batch';
import type { Handle } from '../rtnl/handle';
import { checkSpec, flag, parse, Refusal, refuse, usageError, usageLine, type Spec, type Values } from './args';
import type { CliContext } from './context';

/**
 * A check run before a change is sent, which a flag overrides. Declaring it on a verb adds the
 * flag to what the verb takes (src/cli/guards.ts: ENATBRIDGE on `link set`).
 */
export interface Guard {
  /** The flag that overrides the guard ('--force'). */
  readonly flag: string;
  /** The form of the command the guard is about, for the error when the flag is given elsewhere. */
  readonly about: string;
  /** Whether the guard has anything to check on `op` (if not, its flag is refused). */
  applies(op: BatchOp): boolean;
  /** Before one command is sent: throws to refuse it. */
  one(ctx: CliContext, h: Handle, op: BatchOp, forced: boolean): Promise<void>;
  /** Before a group of batch lines is sent: one error (that line is not sent) or undefined per operation. */
  many(ctx: CliContext, h: Handle, ops: BatchOp[], forced: boolean[]): Promise<Array<Error | undefined>>;
}

/** What a parsed command line does: a change for the batch engine, or a run of its own. */
export type Action = Change | Run;
export interface Change {
  change: BatchOp;
  guard?: Guard;
  /** The guard's flag was given. */
  forced: boolean;
}
export interface Run {
  /** `h` opens the handle in ctx.netns on first use; the caller closes it. */
  run(ctx: CliContext, h: () => Handle): Promise<number>;
}

interface Declaration<S extends Spec> {
  /** What the verb takes, in the order of its usage line. */
  args: S;
  /** Other words for the verb ('list' and 'ls' for 'show'). */
  aliases?: string[];
  /** May be a line of a batch file (src/cli/batch.ts). */
  batch?: boolean;
  /** Checked on the change before it is sent, here and on batch lines. */
  guard?: Guard;
  /** Rules between arguments: refuse() what does not go together. */
  check?(a: Values<S>): void;
  /** Shown after the usage line in `hostwire help`. */
  summary?: string;
}

/** A verb, declared: either `change` (a kernel change) or `run`. */
export type VerbDeclaration<S extends Spec> = Declaration<S> &
  (
    | { change(a: Values<S>): BatchOp; run?: undefined }
    | { run(ctx: CliContext, a: Values<S>, h: () => Handle): Promise<number>; change?: undefined }
  );

/** A declared verb, ready to parse its words. */
export interface Verb {
  readonly noun: string;
  /** Undefined for a noun that is its own verb (`event`, `batch`). */
  readonly name?: string;
  readonly aliases: readonly string[];
  readonly batch: boolean;
  /** The usage line, from the declaration: 'link set DEV [master BR] ...'. */
  readonly usage: string;
  readonly summary?: string;
  /** The words after the verb, as what to do; throws EUSAGE (with the usage line) before anything is sent. */
  parse(words: readonly string[]): Action;
}

/** The key under which a guard's flag is parsed (never a declared argument's name). */
const OVERRIDE = '#override';

/** Declares the verb `command`: its words as typed ('link set', 'event'). */
export function verb<S extends Spec>(command: string, d: VerbDeclaration<S>): Verb {
  const [noun, name] = command.split(' ');
  const spec: Spec = d.guard ? { ...d.args, [OVERRIDE]: flag(d.guard.flag) } : d.args;
  checkSpec(spec, command);
  // Made when help or an error shows it: a command's start declares every verb of its noun.
  let line: string | undefined;
  const usage = () => (line ??= [command, usageLine(spec)].filter(Boolean).join(' '));
  const act = (values: Record<string, unknown>): Action => {
    const a = values as Values<S>;
    d.check?.(a);
    if (d.run) {
      const run = d.run;
      return { run: (ctx, h) => run(ctx, a, h) };
    }
    const op = d.change(a);
    const forced = values[OVERRIDE] === true;
    if (forced && !d.guard?.applies(op)) refuse(`${d.guard?.flag} only applies to ${d.guard?.about}`);
    return { change: op, guard: d.guard, forced };
  };
  return {
    noun,
    name,
    aliases: d.aliases ?? [],
    batch: d.batch ?? false,
    get usage() {
      return usage();
    },
    summary: d.summary,
    parse(words) {
      const { values } = parse(spec, words, { usage });
      try {
        return act(values);
      } catch (e) {
        throw e instanceof Refusal ? usageError(e.message, usage()) : e;
      }
    },
  };
}

/** A noun's verbs; `default` runs when no verb follows the noun (`hostwire link` is `link show`). */
export interface Noun {
  readonly verbs: readonly Verb[];
  readonly default?: Verb;
}

/** The verb the words after `noun` name, and the words after it. Throws EUSAGE. */
export function findVerb(noun: string, n: Noun, args: readonly string[]): { verb: Verb; rest: string[] } {
  const [sub, ...rest] = args;
  if (n.verbs.length === 1 && n.verbs[0].name === undefined) return { verb: n.verbs[0], rest: [...args] };
  if (sub === undefined && n.default) return { verb: n.default, rest: [] };
  const v = n.verbs.find((x) => x.name === sub || (sub !== undefined && x.aliases.includes(sub)));
  if (v) return { verb: v, rest };
  const names = n.verbs.map((x) => x.name).join(', ');
  throw usageError(sub === undefined ? `${noun}: missing verb (one of ${names})` : `${noun}: unknown verb '${sub}' (one of ${names})`);
}

/**
 * A handle in ctx.netns, opened on first use. Inline (HandleOptions.inline): the CLI's event
 * loop serves nobody else, so a lone request or dump is answered on it without a thread hand-off.
 */
export function lazyHandle(ctx: Pick<CliContext, 'netns'>): { get: () => Handle; close: () => void } {
  let h: Handle | undefined;
  return {
    get: () => (h ??= new (require('../rtnl/handle') as typeof import('../rtnl/handle')).Handle({ netns: ctx.netns, inline: true })),
    close: () => h?.close(),
  };
}

/** Runs one parsed command line; a change goes through its guard, then the batch engine. */
export async function execute(ctx: CliContext, action: Action): Promise<number> {
  const h = lazyHandle(ctx);
  try {
    if ('run' in action) return await action.run(ctx, h.get);
    const { change, guard, forced } = action;
    if (guard?.applies(change)) await guard.one(ctx, h.get(), change, forced);
    const { runBatch } = require('../rtnl/batch') as typeof import('../rtnl/batch');
    const { results } = await runBatch(h.get(), [change], { onError: 'stop', mark: true });
    const r = results[0];
    if (!r.ok) throw r.error;
    return 0;
  } finally {
    h.close();
  }
}
