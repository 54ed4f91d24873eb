/** The bench scripts' command lines: `--name VALUE` options. */

/** The word after `name` in argv, or `fallback` when `name` is absent. */
export function option(argv: readonly string[], name: string, fallback: string): string;
export function option(argv: readonly string[], name: string, fallback?: string): string | undefined;
export function option(argv: readonly string[], name: string, fallback?: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
}
