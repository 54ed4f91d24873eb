/** What every CLI verb gets: the global options, parsed before the verb (`hostwire -n NS --json link show`). */
export interface CliContext {
  /** -n NETNS: the named network namespace to work in (like `ip -n NS`). */
  netns?: string;
  /** --json: machine-readable output on stdout, errors as a JSON object on stderr. */
  json: boolean;
  /** --uri URI: the libvirt connection URI. */
  uri?: string;
  /**
   * The command's libvirt calls run on the JS thread (OpenOptions.inline). Set by the process's
   * entry (src/cli/main.ts start), whose event loop has nothing else to do; not by callers that
   * run commands in their own process (the demo), whose SIGINT handler must run while libvirt
   * works (a domain start takes seconds).
   */
  inline?: boolean;
  /** Write a line (or lines) to stdout. */
  out(text: string): void;
}

/** A noun of the command (src/cli/verbs.ts): takes the words after it, returns the exit code; throws HostwireError on failure. */
export type Command = (ctx: CliContext, args: string[]) => Promise<number>;
