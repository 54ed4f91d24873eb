/**
 * Test harness for the kernel tier: throwaway namespaces made and removed with iproute2 (tests
 * may spawn; the library may not), uniquely named, removed in finally blocks even on failure.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { test } from 'uvu';
import { Handle } from '../../src/rtnl/handle';

export const isRoot = process.getuid?.() === 0;
export const CI = process.env.CI === 'true' || process.env.CI === '1';

let counter = 0;
/** A name no other test or run uses: hw<tag><pid36><n>. */
export function uniqueName(tag: string): string {
  return `hw${tag}${process.pid.toString(36)}${(counter++).toString(36)}`;
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export function ipJson<T = any>(...args: string[]): T {
  return JSON.parse(ip('-j', ...args) || '[]');
}

/** Runs fn with a fresh namespace; the namespace is deleted afterwards, whatever happens. */
export async function withNetns<T>(fn: (ns: string) => Promise<T> | T, tag = 'ns'): Promise<T> {
  const ns = uniqueName(tag);
  ip('netns', 'add', ns);
  try {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    return await fn(ns);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** Runs fn with a fresh namespace and a Handle in it; both are closed and removed afterwards. */
export function withHandle<T>(fn: (h: Handle, ns: string) => Promise<T>, tag = 'ns'): Promise<T> {
  return withNetns(async (ns) => {
    const h = new Handle({ netns: ns });
    try {
      return await fn(h, ns);
    } finally {
      h.close();
    }
  }, tag);
}

/**
 * A test that needs root. Without root it is skipped with a reason, except under CI=true,
 * where CI runs as root: there a missing root fails the test instead of hiding it.
 */
export function kernelTest(
  suite: ReturnType<typeof import('uvu').suite> | typeof test,
  name: string,
  fn: () => Promise<void> | void,
): void {
  if (isRoot) suite(name, fn);
  else if (CI)
    suite(name, () => {
      throw new Error('kernel tests need root, and CI runs as root');
    });
  else suite.skip(name + ' (skipped: needs root)', fn);
}

/** The built CLI. */
export const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `hostwire ARGS` in a child process. */
export function hostwire(args: string[], input?: string, extra: { prefix?: string[] } = {}): CliResult {
  const cmd = extra.prefix ? extra.prefix[0] : process.execPath;
  const argv = extra.prefix ? [...extra.prefix.slice(1), process.execPath, CLI, ...args] : [CLI, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Open fds of this process. */
export function fdCount(): number {
  return require('fs').readdirSync('/proc/self/fd').length;
}
