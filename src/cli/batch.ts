/**
 * `hostwire batch FILE|-`: one verb per line, without `hostwire`, like `ip -batch`. Each line is
 * parsed by the same parser as a command line; only verbs declared `batch` may appear.
 * Consecutive changes are pipelined (after the guards their verbs declare, one check per group);
 * queries and namespace verbs run in order between them. A failing line is reported with its
 * number and the rest still run; the exit code is 1 if any failed.
 */
import * as fs from 'fs';
import { HostwireError } from '../errors';
import { pos, splitLine, usageError } from './args';
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

async function runFile(ctx: CliContext, file: string): Promise<number> {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new HostwireError((e as NodeJS.ErrnoException).code ?? 'EIO', `batch: cannot read ${file}: ${(e as Error).message}`);
  }
  const { runBatch } = require('../rtnl/batch') as typeof import('../rtnl/batch');
  const h = lazyHandle(ctx);
  let failures = 0;
  const fail = (line: number, e: unknown) => {
    failures++;
    const err = e as { code?: string; message?: string };
    const code = err.code ?? 'EINTERNAL';
    if (ctx.json)
      process.stderr.write(JSON.stringify({ line, ...(e instanceof HostwireError ? e.toJSON() : { code, message: err.message }) }) + '\n');
    else process.stderr.write(`hostwire: batch line ${line}: ${code}: ${err.message}\n`);
  };
  let group: Array<Change & { line: number }> = [];
  const flush = async () => {
    if (!group.length) return;
    const lines = group;
    group = [];
    // Each guard checks the lines of the verbs that declare it, all at once.
    const refused: Array<Error | undefined> = lines.map(() => undefined);
    for (const guard of new Set(lines.map((l) => l.guard))) {
      if (!guard) continue;
      const mine = lines.flatMap((l, i) => (l.guard === guard ? [i] : []));
      const errors = await guard.many(
        ctx,
        h.get(),
        mine.map((i) => lines[i].change),
        mine.map((i) => lines[i].forced),
      );
      mine.forEach((i, j) => (refused[i] ??= errors[j]));
    }
    refused.forEach((e, i) => e && fail(lines[i].line, e));
    const run = lines.filter((_, i) => !refused[i]);
    const { results } = await runBatch(
      h.get(),
      run.map((l) => l.change),
      { mark: true },
    );
    results.forEach((r, i) => r.ok || fail(run[i].line, r.error));
  };
  try {
    const all = text.split('\n');
    for (let n = 0; n < all.length; n++) {
      const words = splitLine(all[n]);
      if (!words.length) continue;
      let action: Action;
      try {
        action = parseLine(words);
      } catch (e) {
        fail(n + 1, e);
        continue;
      }
      if ('change' in action) {
        group.push({ ...action, line: n + 1 });
        continue;
      }
      await flush();
      try {
        await action.run(ctx, h.get);
      } catch (e) {
        fail(n + 1, e);
      }
    }
    await flush();
  } finally {
    h.close();
  }
  return failures ? 1 : 0;
}

/** hostwire batch FILE|-. Equivalent to: ip -batch FILE|- */
const batch = verb('batch', {
  summary: "one verb per line, without 'hostwire', like ip -batch",
  args: { file: pos('FILE|-') },
  run: (ctx, a) => runFile(ctx, a.file),
});

export const noun: Noun = { verbs: [batch] };
