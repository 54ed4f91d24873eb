/**
 * Credentials for remote URIs (src/libvirt/credentials.ts), no root: the file's format and mode
 * check, the environment's order, and what the callback answers for each credential type. Errors
 * name the file and line, never a value on it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  VIR_CRED_AUTHNAME,
  VIR_CRED_NOECHOPROMPT,
  VIR_CRED_PASSPHRASE,
  VIR_CRED_REALM,
  VIR_CRED_USERNAME,
  credentialCallback,
  credentialsFromEnv,
  readAuthFile,
} from '../src/libvirt';

function withDir(fn: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-creds-'));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function write(file: string, text: string, mode = 0o600): string {
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return file;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('readAuthFile: username/authname and password lines, comments, a password kept as written', () =>
  withDir((dir) => {
    const f = write(path.join(dir, 'a'), '# remote libvirt\n\nusername = alice \npassword = p@ss word  \n');
    assert.equal(readAuthFile(f), { username: 'alice', password: 'p@ss word  ' });
    const g = write(path.join(dir, 'b'), 'authname=bob\r\npassword=x=y\r\n');
    assert.equal(readAuthFile(g), { username: 'bob', password: 'x=y' });
  }));

test('readAuthFile: EAUTHFILE for a group/world-readable file, a bad line, a missing file; no value in the message', () =>
  withDir((dir) => {
    const open = write(path.join(dir, 'open'), 'username = a\npassword = s3cret-value\n', 0o644);
    let err: Error | undefined;
    try {
      readAuthFile(open);
    } catch (e) {
      err = e as Error;
    }
    assert.is((err as { code?: string }).code, 'EAUTHFILE');
    assert.not.match(err!.message, /s3cret/);
    const bad = write(path.join(dir, 'bad'), 'username = a\nsecret s3cret-value\n');
    try {
      readAuthFile(bad);
    } catch (e) {
      err = e as Error;
    }
    assert.is((err as { code?: string }).code, 'EAUTHFILE');
    assert.match(err!.message, /bad:2:/);
    assert.not.match(err!.message, /s3cret/);
    assert.is(
      code(() => readAuthFile(path.join(dir, 'missing'))),
      'EAUTHFILE',
    );
    assert.is(
      code(() => readAuthFile(dir)),
      'EAUTHFILE',
    );
  }));

test('credentialsFromEnv: HOSTWIRE_AUTH_FILE first, then HOSTWIRE_USERNAME/HOSTWIRE_PASSWORD, else null', () =>
  withDir((dir) => {
    const f = write(path.join(dir, 'a'), 'username = file-user\npassword = file-pw\n');
    assert.equal(credentialsFromEnv({ HOSTWIRE_AUTH_FILE: f, HOSTWIRE_PASSWORD: 'env-pw' }), {
      username: 'file-user',
      password: 'file-pw',
    });
    assert.equal(credentialsFromEnv({ HOSTWIRE_USERNAME: 'u', HOSTWIRE_PASSWORD: 'p' }), { username: 'u', password: 'p' });
    assert.equal(credentialsFromEnv({ HOSTWIRE_PASSWORD: 'p' }), { password: 'p' });
    assert.is(credentialsFromEnv({}), null);
    assert.is(credentialsFromEnv({ HOSTWIRE_AUTH_FILE: '' }), null);
  }));

test('credentialCallback: the username for AUTHNAME and USERNAME, the password for PASSPHRASE, libvirt default otherwise', async () => {
  const seen: number[][] = [];
  const cb = credentialCallback({ username: 'alice', password: 'pw' }, (t) => seen.push(t));
  const types = [VIR_CRED_USERNAME, VIR_CRED_AUTHNAME, VIR_CRED_PASSPHRASE, VIR_CRED_REALM, VIR_CRED_NOECHOPROMPT];
  const answers = await cb(types.map((type) => ({ type, prompt: '', challenge: '', defresult: '' })));
  assert.equal(answers, ['alice', 'alice', 'pw', undefined, undefined]);
  assert.equal(seen, [types]);
});

test.run();
