#!/usr/bin/env node
/**
 * The `hostwire` command. Global options come before the verb, as with `ip -n NS -j link show`:
 *
 *     hostwire [-n NETNS] [--json] [--uri URI] VERB ...
 *
 * Errors go to stderr as `hostwire: CODE: message` (under --json, a JSON object with `code`),
 * with a non-zero exit. Credentials for remote libvirt URIs come from the environment
 * ($HOSTWIRE_AUTH_FILE, or $HOSTWIRE_USERNAME and $HOSTWIRE_PASSWORD: see cli/virsh.ts), never
 * from argv. Nothing here spawns a process (`net edit` starts $EDITOR, as virsh does).
 */
import { HostwireError } from '../errors';
import { flag, parse, usageError, usageLine, value } from './args';
import type { CliContext } from './context';
import { exitWhenWritten, writeLine } from './output';
import { helpLines, verbs } from './verbs';

/** The global options, before the verb (as `ip -n NS -j link show`); --json may also come after it. */
const GLOBAL = {
  netns: value(['-n', '-netns', '--netns'], 'NETNS'),
  json: flag('--json', '-j', '-json'),
  uri: value(['--uri', '-c', '--connect'], 'URI'),
  help: { ...flag('--help', '-h'), hidden: true },
};

const SYNOPSIS = `hostwire ${usageLine(GLOBAL)} VERB ...`;

/** `hostwire help`: the synopsis, then every verb's usage line from its declaration. */
export function helpText(): string {
  return [`usage: ${SYNOPSIS}`, ...helpLines()].join('\n');
}

export function parseGlobal(argv: string[]): { ctx: Omit<CliContext, 'out'>; rest: string[] } {
  const { values, rest } = parse(GLOBAL, argv, { stopAtPositional: true, usage: SYNOPSIS });
  const ctx: Omit<CliContext, 'out'> = { json: values.json };
  if (values.netns !== undefined) ctx.netns = values.netns;
  if (values.uri !== undefined) ctx.uri = values.uri;
  if (values.help) return { ctx, rest: ['help'] };
  // --json is also accepted after the verb, as `hostwire link show master br0 --json`.
  const words = rest.filter((w) => {
    if (w !== '--json') return true;
    ctx.json = true;
    return false;
  });
  return { ctx, rest: words };
}

/** Runs one command line (the words after the global options); returns the exit code. */
export async function run(ctx: CliContext, words: string[]): Promise<number> {
  const [noun, ...args] = words;
  if (noun === undefined || noun === 'help') {
    ctx.out(helpText());
    return noun === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(verbs, noun)) throw usageError(`unknown verb '${noun}' (try: hostwire help)`);
  return verbs[noun](ctx, args);
}

function reportError(e: unknown, json: boolean): void {
  const code = e instanceof HostwireError || (e as { code?: unknown })?.code ? String((e as { code: unknown }).code) : 'EINTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  if (json) {
    const obj = e instanceof HostwireError ? e.toJSON() : { code, message };
    process.stderr.write(JSON.stringify(obj) + '\n');
  } else {
    process.stderr.write(`hostwire: ${code}: ${message}\n`);
  }
}

/** Runs the command line `argv`; returns the exit code. `inline`: see CliContext.inline. */
export async function main(argv: string[], inline = false): Promise<number> {
  let json = argv.includes('--json') || argv.includes('-j');
  try {
    const { ctx, rest } = parseGlobal(argv);
    json = ctx.json;
    return await run({ ...ctx, inline, out: writeLine }, rest);
  } catch (e) {
    reportError(e, json);
    return (e as { code?: string })?.code === 'EUSAGE' ? 2 : 1;
  }
}

/**
 * Runs the command line `argv` as the process: its exit code becomes the process's. Called when
 * this file is run, and by the package's launcher (src/cli/bin.ts) once it has loaded the bundle.
 */
export function start(argv: string[]): void {
  // Never die from an unhandled rejection or a stray exception: report it, exit non-zero.
  process.on('uncaughtException', (e) => {
    reportError(e, argv.includes('--json'));
    process.exit(1);
  });
  main(argv, true).then(
    (code) => exitWhenWritten(code),
    (e) => {
      reportError(e, false);
      exitWhenWritten(1);
    },
  );
}

if (require.main === module) start(process.argv.slice(2));
