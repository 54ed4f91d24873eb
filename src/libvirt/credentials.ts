/**
 * Credentials for remote URIs (qemu+tcp:// with SASL ...), from a file or the environment, never
 * from argv: a command line is readable by every user of the host (/proc/PID/cmdline).
 *
 *     $HOSTWIRE_AUTH_FILE    a file of `key = value` lines: `username` (or `authname`) and
 *                            `password`; `#` starts a comment. It must not be readable by group or
 *                            others (mode 0600 or stricter), as ssh asks of a private key.
 *     $HOSTWIRE_USERNAME     otherwise, the username, and
 *     $HOSTWIRE_PASSWORD     the password (the environment of a process is readable only by its
 *                            user and root, but is inherited by its children: prefer the file)
 *
 * libvirt's own $LIBVIRT_AUTH_FILE (auth.conf) still applies: libvirt answers from it first and
 * asks the callback only for what it left open. Nothing here prints or logs a credential; errors
 * name the file and the line, never what is on it.
 */
import * as fs from 'fs';
import { HostwireError } from '../errors';
import type { AuthCallback, Credential } from './connection';
import { VIR_CRED_AUTHNAME, VIR_CRED_PASSPHRASE, VIR_CRED_USERNAME } from './constants';

export interface Credentials {
  username?: string;
  password?: string;
}

/** The environment variables read by credentialsFromEnv(). */
export const AUTH_FILE_ENV = 'HOSTWIRE_AUTH_FILE';
export const USERNAME_ENV = 'HOSTWIRE_USERNAME';
export const PASSWORD_ENV = 'HOSTWIRE_PASSWORD';

const KEYS: Record<string, keyof Credentials> = { username: 'username', authname: 'username', password: 'password' };

/**
 * Reads a credentials file (see the module comment). Throws EAUTHFILE when it cannot be read, is
 * readable by group or others, or has a line that is not `username|authname|password = VALUE`.
 */
export function readAuthFile(file: string): Credentials {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new HostwireError('EAUTHFILE', `${file}: not a regular file`);
    if ((st.mode & 0o077) !== 0)
      throw new HostwireError('EAUTHFILE', `${file}: readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof HostwireError) throw e;
    throw new HostwireError('EAUTHFILE', `${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const out: Credentials = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*(#|$)/.test(line)) return;
    const m = /^\s*([A-Za-z]+)\s*=\s?(.*)$/.exec(line);
    const key = m ? KEYS[m[1].toLowerCase()] : undefined;
    if (!m || !key) throw new HostwireError('EAUTHFILE', `${file}:${i + 1}: expected username = NAME or password = SECRET`);
    // Values are taken as written after `= ` (a password may end in spaces); usernames are trimmed.
    out[key] = key === 'username' ? m[2].trim() : m[2];
  });
  return out;
}

/**
 * The credentials the environment names: $HOSTWIRE_AUTH_FILE, else $HOSTWIRE_USERNAME and
 * $HOSTWIRE_PASSWORD; null when none is set.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | null {
  const file = env[AUTH_FILE_ENV];
  if (file !== undefined && file !== '') return readAuthFile(file);
  const username = env[USERNAME_ENV];
  const password = env[PASSWORD_ENV];
  if (username === undefined && password === undefined) return null;
  const out: Credentials = {};
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  return out;
}

/**
 * A credential callback for Connection.open({auth}) answering from `creds`: the username for
 * VIR_CRED_AUTHNAME (SASL's authentication id) and VIR_CRED_USERNAME (its authorization id), the
 * password for VIR_CRED_PASSPHRASE, and nothing else (libvirt's default, e.g. the server's realm
 * for DIGEST-MD5). `onAsk`, when given, sees the credential types asked (never the answers).
 */
export function credentialCallback(creds: Credentials, onAsk?: (types: number[]) => void): AuthCallback {
  return (asked: Credential[]) => {
    onAsk?.(asked.map((c) => c.type));
    return asked.map((c) => {
      if (c.type === VIR_CRED_AUTHNAME || c.type === VIR_CRED_USERNAME) return creds.username;
      if (c.type === VIR_CRED_PASSPHRASE) return creds.password;
      return undefined;
    });
  };
}
