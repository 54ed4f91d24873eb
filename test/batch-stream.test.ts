/**
 * Kernel tier: `hostwire batch -` as a stream, the way an agent uses it: one process kept open,
 * a line written, its result read before the next is written. Each result must arrive while
 * standard input is still open, in input order, one JSON object per line under --json; the
 * first failure stops it (exit 1) unless --force. No timing is asserted (bench/stream.ts
 * measures); the timeouts only keep a broken build from hanging the run.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, ipJson, kernelTest, withNetns } from './helpers/kernel';

const t = suite('batch-stream');

/** What one result line says. */
interface Result {
  line: number;
  ok: boolean;
  index?: number;
  output?: unknown;
  code?: string;
  message?: string;
}

const LIMIT = 20_000;

/** `hostwire ARGS batch ... -` as a child whose stdin the test writes and whose stdout it reads line by line. */
class Stream {
  readonly child: ChildProcessWithoutNullStreams;
  private lines: string[] = [];
  private waiting: (() => void) | undefined;
  private buffered = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      const parts = (this.buffered + d).split('\n');
      this.buffered = parts.pop() as string;
      this.lines.push(...parts);
      this.waiting?.();
    });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdin.on('error', () => undefined); // EPIPE once the child has stopped reading
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  write(text: string): void {
    this.child.stdin.write(text);
  }

  /** The next line of stdout (parsed as JSON when `json`). */
  async next(): Promise<string> {
    const deadline = Date.now() + LIMIT;
    while (!this.lines.length) {
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before the next line: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no result within ${LIMIT} ms: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 100);
      });
    }
    return this.lines.shift() as string;
  }

  async result(): Promise<Result> {
    return JSON.parse(await this.next()) as Result;
  }

  /** Whether the child is still running, with its stdin open. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.stdin.writable;
  }

  async exit(): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), LIMIT);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Runs fn with a stream in a fresh namespace; the child is killed and the namespace removed whatever happens. */
function withStream(args: string[], fn: (s: Stream, ns: string) => Promise<void>): Promise<void> {
  return withNetns(async (ns) => {
    const s = new Stream(['-n', ns, ...args]);
    try {
      await fn(s, ns);
    } finally {
      s.kill();
    }
  });
}

kernelTest(t, '--json: each line answered while stdin stays open, with its number, the ifindex of what it made, a query its output', () =>
  withStream(['--json', 'batch', '-'], async (s, ns) => {
    s.write('bridge add br0\n');
    const made = await s.result();
    assert.ok(s.running, 'the answer came before stdin was closed');
    assert.equal(made, { line: 1, ok: true, index: ipJson('-n', ns, 'link', 'show', 'br0')[0].ifindex });

    s.write('# a comment, then a blank line: no result for either\n\ntap add t0 --mtu 1400\n');
    const tap = await s.result();
    assert.is(tap.line, 4);
    assert.is(tap.index, ipJson('-n', ns, 'link', 'show', 't0')[0].ifindex);

    s.write('link set t0 master br0 up\n');
    assert.equal(await s.result(), { line: 5, ok: true });
    assert.is(ipJson('-n', ns, 'link', 'show', 't0')[0].master, 'br0', 'done by the time its result was read');

    s.write('link show master br0\n');
    const shown = await s.result();
    assert.is(shown.line, 6);
    assert.equal(
      (shown.output as Array<{ name: string }>).map((l) => l.name),
      ['t0'],
    );
    assert.ok(s.running);

    s.child.stdin.end();
    assert.is(await s.exit(), 0, s.stderr);
    assert.is(s.stderr, '');
  }),
);

kernelTest(t, 'lines written together: one result each, in input order, however the kernel interleaves them', () =>
  withStream(['--json', 'batch', '-'], async (s) => {
    const lines = ['bridge add br0'];
    for (let i = 0; i < 50; i++) lines.push(`link add v${i} type veth peer p${i}`, `link set v${i} master br0 up`, `tap add t${i}`);
    lines.push('link show master br0');
    s.write(lines.join('\n') + '\n');
    for (let n = 1; n <= lines.length; n++) {
      const r = await s.result();
      assert.is(r.line, n);
      assert.ok(r.ok, JSON.stringify(r));
      if (/^(bridge|link|tap) add /.test(lines[n - 1])) assert.ok(typeof r.index === 'number' && r.index > 0, lines[n - 1]);
    }
    s.child.stdin.end();
    assert.is(await s.exit(), 0, s.stderr);
  }),
);

kernelTest(t, 'input far ahead of the work (megabytes at once, read in bounded steps): every line answered, numbered and in order', () =>
  withStream(['--json', 'batch', '-'], async (s) => {
    // 2.6 MB: more than the stream reads ahead (1 MB), so reading pauses and resumes under it;
    // the last line has no newline.
    const lines: string[] = [];
    for (let i = 0; i < 60_000; i++) lines.push(i % 1000 === 999 ? 'link set lo up' : `# ${'x'.repeat(40)} ${i}`);
    lines.push('link show lo');
    s.write(lines.join('\n'));
    s.child.stdin.end();
    const want = lines.flatMap((l, i) => (l.startsWith('#') ? [] : [i + 1]));
    for (const n of want) {
      const r = await s.result();
      assert.equal([r.line, r.ok], [n, true], JSON.stringify(r));
    }
    assert.is(await s.exit(), 0, s.stderr);
  }),
);

kernelTest(t, "the first failure is its line's result and stops the stream (exit 1) with stdin still open; nothing after it runs", () =>
  withStream(['--json', 'batch', '-'], async (s, ns) => {
    s.write('bridge add br0\n');
    assert.is((await s.result()).ok, true);
    s.write('link set nope up\n');
    const failed = await s.result();
    assert.equal([failed.line, failed.ok, failed.code], [2, false, 'ENODEV']);
    assert.is(await s.exit(), 1, 'it stopped without waiting for stdin to close');
    s.write('bridge add br1\n'); // never read
    assert.equal(
      ipJson('-n', ns, 'link', 'show', 'type', 'bridge').map((l: { ifname: string }) => l.ifname),
      ['br0'],
    );
  }),
);

kernelTest(t, '--force: a failure is reported and the stream goes on; the exit code is 1 at the end', () =>
  withStream(['--json', 'batch', '--force', '-'], async (s, ns) => {
    s.write('link set nope up\n');
    assert.equal((await s.result()).code, 'ENODEV');
    s.write('frobnicate\n');
    assert.equal((await s.result()).code, 'EUSAGE');
    s.write('bridge add br0\n');
    const made = await s.result();
    assert.equal([made.line, made.ok], [3, true]);
    assert.ok(s.running, 'still reading after two failures');
    s.write('bridge add br0\n');
    assert.equal((await s.result()).code, 'EEXIST');
    s.child.stdin.end();
    assert.is(await s.exit(), 1);
    assert.is(ipJson('-n', ns, 'link', 'show', 'br0').length, 1);
  }),
);

kernelTest(t, 'without --json, as ip -batch: a query prints as it runs, a failure goes to stderr with its line, and stops it', () =>
  withStream(['batch', '-'], async (s) => {
    s.write('bridge add br0\nlink show br0\n');
    assert.match(await s.next(), /^br0\s+DOWN\b/);
    assert.ok(s.running, 'printed while stdin is open');
    s.write('link set nope up\n');
    assert.is(await s.exit(), 1);
    assert.match(s.stderr, /^hostwire: batch line 3: ENODEV: /);
  }),
);

t.run();
