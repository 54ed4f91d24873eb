/**
 * The client side of test/remote-libvirt.test.ts, run as a child in the client namespace
 * (`ip netns exec CLIENT node remote-client.js URI`): the library's view of a remote libvirtd over
 * TCP + SASL, one JSON object per line on stdout. Credentials come from the environment
 * ($HOSTWIRE_AUTH_FILE: the good file; $WRONG_AUTH_FILE: one with a wrong password), as the CLI
 * reads them, answered by the credential callback.
 *
 *   {"step":"refused","code":...,"libvirtError":true}   the wrong password, typed
 *   {"step":"open","asked":[[1,2,5]],"type":"QEMU"}      the right one; the credential types asked
 *   {"step":"subscribed","keepalive":true}               network events on, keepalive 2 s x 3
 *   {"step":"event","name":...,"event":"DEFINED"}        each network lifecycle event
 *   {"step":"close","reason":"KEEPALIVE","at":MS}        the dead peer, then the process ends by itself
 */
import {
  Connection,
  LibvirtError,
  credentialCallback,
  credentialsFromEnv,
  readAuthFile,
  type CloseEvent,
  type LifecycleEvent,
} from '../../src/libvirt';

const say = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<void> {
  const uri = process.argv[2];
  // Never hang a test run: a stuck client ends itself (the timer does not keep it alive).
  setTimeout(() => {
    say({ step: 'timeout' });
    process.exit(2);
  }, 90_000).unref();

  const wrong = process.env.WRONG_AUTH_FILE;
  if (wrong) {
    try {
      const c = await Connection.open(uri, { auth: credentialCallback(readAuthFile(wrong)) });
      await c.close();
      say({ step: 'refused', code: null });
    } catch (e) {
      say({ step: 'refused', code: (e as { code?: string }).code, libvirtError: e instanceof LibvirtError });
    }
  }

  const creds = credentialsFromEnv();
  if (!creds) throw new Error('no credentials in the environment');
  const asked: number[][] = [];
  const c = await Connection.open(uri, { auth: credentialCallback(creds, (types) => asked.push(types)) });
  say({ step: 'open', asked, type: await c.getType(), alive: await c.isAlive() });
  c.on('lifecycle', (e: LifecycleEvent) => say({ step: 'event', name: e.name, event: e.event }));
  c.once('close', (e: CloseEvent) => say({ step: 'close', reason: e.reason, at: Date.now() }));
  await c.networkEventRegisterAny();
  const keepalive = await c.setKeepAlive(2, 3);
  say({ step: 'subscribed', keepalive });
}

main().catch((e) => {
  say({ step: 'error', code: (e as { code?: string }).code ?? null, message: (e as Error).message });
  process.exitCode = 1;
});
