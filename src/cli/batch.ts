/**
 * `hostwire batch FILE|- [--force]`: one verb per line, without `hostwire`, like `ip -batch`.
 * Each line is parsed by the same parser as a command line; only verbs declared `batch` may
 * appear.
 *
 * A stream: lines run as they arrive, and each line's result is written as soon as it is known,
 * in input order, so an agent can keep one process open, write a line and read its answer.
 * Lines available together (a file, a fast pipe) are still pipelined: consecutive changes go to
 * runBatch as one group, after the guards their verbs declare (one check per group); queries
 * and namespace verbs run in order between groups.
 *
 * As `ip -batch`, it stops at the first line that fails (nothing after it is read or run)
 * unless --force (ip's -force) is given; the exit code is 1 if any line failed. Lines of a
 * group already in the socket's window when the failure comes back have run, and are reported.
 *
 * Results: with --json, one object per line on stdout: `{"line":N,"ok":true}`, plus `index` (the
 * ifindex) for a creation and `output` for a query, or `{"line":N,"ok":false,"code":...,
 * "message":...}`. Without --json, as ip: a query prints its output, a failure
 * `hostwire: batch line N: CODE: message` on stderr, a change that worked nothing. Blank lines
 * and comments give no result.
 */
import * as fs from 'fs';
import { HostwireError } from '../errors';
import { flag, pos, splitLine, usageError } from './args';
import type { CliContext } from './context';
import { lazyHandle, verb, type Action, type Change, type Noun } from './verb';
import { lookup } from './verbs';

/** The line's verb, parsed; throws EUSAGE for a verb a batch may not hold. */
export function parseLine(words: readonly string[]): Action {
  if (words[0] === 'batch') throw usageError('batch files cannot nest');
  const { verb, rest } = lookup(words);
  if (!verb.batch) throw usageError(`${verb.noun} ${verb.name ?? ''}`.trim() + ' cannot be used in a batch file');
  return verb.parse(rest);
}

/** One input line: its number (from 1) and its text. */
type Line = [number, string];

/** What one line came to. */
type Result = { ok: true; index?: number; output?: unknown } | { ok: false; error: unknown };

/** The batch engine, loaded with the first line that needs it. */
let engine: typeof import('../rtnl/batch') | undefined;
const batchEngine = () => (engine ??= require('../rtnl/batch') as typeof import('../rtnl/batch'));

/** The complete lines of FILE, all at once: a file is available together. */
async function* fileLines(file: string): AsyncGenerator<Line[]> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new HostwireError((e as NodeJS.ErrnoException).code ?? 'EIO', `batch: cannot read ${file}: ${(e as Error).message}`);
  }
  yield text.split('\n').map((t, i): Line => [i + 1, t]);
}

/**
 * Standard input's lines as they arrive: each yield is every complete line there is by then.
 * Read in flowing mode with one listener (Readable's async iterator costs a read() loop and
 * several promises per chunk, paid on every line of an agent's stream); reading pauses while
 * more than READ_AHEAD bytes wait unprocessed, so a large file piped in is not read into memory.
 */
async function* stdinLines(): AsyncGenerator<Line[]> {
  const stdin = process.stdin;
  let n = 0;
  let partial = '';
  let waiting: string[] = [];
  let bytes = 0;
  let ended = false;
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  const onData = (chunk: string) => {
    waiting.push(chunk);
    bytes += chunk.length;
    if (bytes > READ_AHEAD) stdin.pause();
    wake?.();
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onError = (e: Error) => {
    failed = e;
    wake?.();
  };
  stdin.setEncoding('utf8');
  stdin.on('data', onData).on('end', onEnd).on('error', onError);
  try {
    for (;;) {
      if (!waiting.length && !ended && !failed) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (failed) throw failed;
      if (waiting.length) {
        const text = partial + (waiting.length === 1 ? waiting[0] : waiting.join(''));
        waiting = [];
        if (bytes > READ_AHEAD) stdin.resume();
        bytes = 0;
        const parts = text.split('\n');
        partial = parts.pop() as string;
        if (parts.length) yield parts.map((t): Line => [++n, t]);
        continue;
      }
      if (ended) break;
    }
    if (partial) yield [[++n, partial]];
  } finally {
    // Done, or stopped at a failure: nothing more is read.
    stdin.off('data', onData).off('end', onEnd).off('error', onError);
    stdin.pause();
  }
}

/** Unprocessed input read ahead of the lines being run, at most (bytes, roughly). */
const READ_AHEAD = 1 << 20;

/** Reads, runs and reports the lines; returns the exit code. */
async function runLines(ctx: CliContext, input: AsyncIterable<Line[]>, force: boolean): Promise<number> {
  const h = lazyHandle(ctx);
  let failures = 0;

  /** Writes one line's result (see the file's comment); false when it failed. */
  const report = (line: number, r: Result): boolean => {
    if (!r.ok) failures++;
    if (ctx.json) {
      if (r.ok)
        ctx.out(
          JSON.stringify({
            line,
            ok: true,
            ...(r.index !== undefined ? { index: r.index } : {}),
            ...('output' in r ? { output: r.output } : {}),
          }),
        );
      else {
        const e = r.error as { code?: string; message?: string };
        const detail =
          r.error instanceof HostwireError ? r.error.toJSON() : { code: e?.code ?? 'EINTERNAL', message: e?.message ?? String(e) };
        ctx.out(JSON.stringify({ line, ok: false, ...detail }));
      }
    } else if (!r.ok) {
      const e = r.error as { code?: string; message?: string };
      process.stderr.write(`hostwire: batch line ${line}: ${e?.code ?? 'EINTERNAL'}: ${e?.message ?? String(e)}\n`);
    }
    return r.ok;
  };

  /**
   * Runs a group of consecutive changes as one pipeline and reports each line; false when one
   * failed. Without --force, lines after the first failure that were not sent are not reported.
   */
  const flush = async (group: Array<Change & { line: number }>): Promise<boolean> => {
    if (!group.length) return true;
    // Each guard checks the lines it has something to check on (their verb declares it), all at once.
    const refused: Array<Error | undefined> = group.map(() => undefined);
    for (const guard of new Set(group.map((l) => l.guard))) {
      if (!guard) continue;
      const mine = group.flatMap((l, i) => (l.guard === guard && guard.applies(l.change) ? [i] : []));
      if (!mine.length) continue;
      const errors = await guard.many(
        ctx,
        h.get(),
        mine.map((i) => group[i].change),
        mine.map((i) => group[i].forced),
      );
      mine.forEach((i, j) => (refused[i] ??= errors[j]));
    }
    // Without --force nothing after the first refusal runs.
    const firstRefused = refused.findIndex((e) => e !== undefined);
    const until = force || firstRefused < 0 ? group.length : firstRefused;
    const run = group.slice(0, until).flatMap((l, i) => (refused[i] ? [] : [i]));
    const { results } = await batchEngine().runBatch(
      h.get(),
      run.map((i) => group[i].change),
      { onError: force ? 'continue' : 'stop', indexes: ctx.json, mark: true },
    );
    const byLine = new Map(run.map((i, k) => [i, results[k]]));
    // In line order. Without --force, after the first failure only lines that were sent anyway
    // (already in the window) are reported; a refusal or a skipped line after it never ran.
    let ok = true;
    for (let i = 0; i < group.length; i++) {
      const r = byLine.get(i);
      const error = refused[i] ?? (r && !r.ok ? r.error : undefined);
      const skipped = (error as { code?: string } | undefined)?.code === 'ESKIPPED';
      if (!ok && !force && (refused[i] || skipped || !r)) continue;
      if (error) ok = report(group[i].line, { ok: false, error }) && ok;
      else if (r?.ok) report(group[i].line, { ok: true, index: r.index });
    }
    return ok;
  };

  /** Runs a query or namespace verb; under --json its output goes into the line's result. */
  const runOne = async (line: number, action: Exclude<Action, Change>): Promise<boolean> => {
    const printed: string[] = [];
    const c: CliContext = ctx.json ? { ...ctx, out: (t) => printed.push(t) } : ctx;
    try {
      await action.run(c, h.get);
    } catch (e) {
      return report(line, { ok: false, error: e });
    }
    if (!ctx.json) return true;
    const parsed = printed.map((t) => {
      try {
        return JSON.parse(t) as unknown;
      } catch {
        return t;
      }
    });
    return report(line, parsed.length ? { ok: true, output: parsed.length === 1 ? parsed[0] : parsed } : { ok: true });
  };

  /** The lines available now, in order; false once one failed (without --force: stop). */
  const runAvailable = async (lines: Line[]): Promise<boolean> => {
    let group: Array<Change & { line: number }> = [];
    let ok = true;
    for (const [n, text] of lines) {
      const words = splitLine(text);
      if (!words.length) continue;
      let action: Action;
      try {
        action = parseLine(words);
        if ('change' in action) {
          batchEngine().checkOp(action.change);
          group.push({ ...action, line: n });
          continue;
        }
      } catch (e) {
        ok = (await flush(group)) && ok;
        group = [];
        if (!ok && !force) return false;
        ok = report(n, { ok: false, error: e }) && ok;
        if (!force) return false;
        continue;
      }
      ok = (await flush(group)) && ok;
      group = [];
      if (!ok && !force) return false;
      ok = (await runOne(n, action)) && ok;
      if (!ok && !force) return false;
    }
    ok = (await flush(group)) && ok;
    return ok || force;
  };

  try {
    for await (const lines of input) if (!(await runAvailable(lines))) break;
  } finally {
    h.close();
  }
  return failures ? 1 : 0;
}

/** hostwire batch FILE|- [--force]. Equivalent to: ip [-force] -batch FILE|- */
const batch = verb('batch', {
  summary: "one verb per line, without 'hostwire', like ip -batch: each line's result as it runs; stops at the first error unless --force",
  args: { file: pos('FILE|-'), force: flag('--force', '-force') },
  run: (ctx, a) => runLines(ctx, a.file === '-' ? stdinLines() : fileLines(a.file), a.force),
});

export const noun: Noun = { verbs: [batch] };
