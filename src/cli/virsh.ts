/**
 * What the libvirt verbs (net, domain, event, monitor --libvirt, the ENATBRIDGE guard) share:
 * virsh's table layout, its JSON, and the connection each command opens and closes. The URI is
 * --uri, else $LIBVIRT_DEFAULT_URI, else qemu:///system. A remote URI that asks for credentials
 * (qemu+tcp://HOST/system with SASL) gets them from $HOSTWIRE_AUTH_FILE, else $HOSTWIRE_USERNAME
 * and $HOSTWIRE_PASSWORD (src/libvirt/credentials.ts), through the credential callback; never
 * from argv, and they are never printed.
 */
import { Connection, credentialCallback, credentialsFromEnv } from '../libvirt';
import type { CliContext } from './context';

/**
 * A table the way virsh prints one (vshTable): a leading space, columns padded to their widest
 * cell and joined by three spaces, a dashed rule two longer than the header, a blank line after.
 */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => (' ' + cells.map((c, i) => c.padEnd(widths[i])).join('   ')).trimEnd();
  const rule = '-'.repeat(1 + widths.reduce((a, b) => a + b, 0) + 3 * (widths.length - 1) + 2);
  return [line(header), rule, ...rows.map(line), '', ''].join('\n');
}

export const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

/** JSON as the libvirt verbs print it: indented. */
export function printJson(ctx: CliContext, v: unknown): void {
  ctx.out(JSON.stringify(v, null, 2));
}

/**
 * The connection of one command: ctx.uri, answering credential requests from the environment;
 * inline when ctx.inline (the `hostwire` process: it waits for each call anyway).
 */
export function openConnection(ctx: Pick<CliContext, 'uri' | 'inline'>): Promise<Connection> {
  const creds = credentialsFromEnv();
  const inline = ctx.inline === true;
  return Connection.open(ctx.uri, creds ? { auth: credentialCallback(creds), inline } : { inline });
}

/** Opens the connection for one command and always closes it. */
export async function withConnection<T>(ctx: CliContext, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await openConnection(ctx);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}
