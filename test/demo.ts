/**
 * `npm run demo`: the bridged-networking workflow in a throwaway namespace, printing each step
 * the way the tutorial's commands show it. Everything it makes is removed at the end, also on
 * failure. (Demo code lives outside src/: it may spawn to start daemons; the library never does.)
 */
import { Handle, addNetns, deleteNetns, listNetns } from '../src';
import { linkBrief } from '../src/cli/kernel';
import type { Link } from '../src/rtnl';

const step = (title: string) => console.log(`\n== ${title}`);
const show = (links: Link[], all: Link[]) => {
  const names = new Map(all.map((l) => [l.index, l.name]));
  for (const l of links) console.log('   ' + linkBrief(l, names));
};

export async function kernelWalk(ns: string): Promise<void> {
  const h = new Handle({ netns: ns });
  try {
    step(`hostwire -n ${ns} bridge show      (brctl show: no bridges yet)`);
    console.log(`   bridges: ${(await h.listLinks({ kind: 'bridge' })).map((b) => b.name).join(', ') || '(none)'}`);

    step(`hostwire -n ${ns} bridge add br0 --stp off      (ip link add br0 type bridge)`);
    await h.createBridge('br0', { stp: false });
    await h.setUp('br0');
    show([await h.getLink('br0')], []);

    step(`hostwire -n ${ns} link add vm0 type veth peer vm0p; link set vm0 master br0 up   (x3)`);
    for (let i = 0; i < 3; i++) {
      await h.createVeth(`vm${i}`, `vm${i}p`);
      await h.setLink(`vm${i}`, { master: 'br0', up: true });
    }
    const all = await h.listLinks();
    step(`hostwire -n ${ns} link show master br0      (ip link show master br0)`);
    show(await h.listLinks({ master: 'br0' }), all);

    step(`hostwire -n ${ns} link set vm0 nomaster; link del vm0..vm2; link del br0`);
    for (let i = 0; i < 3; i++) {
      await h.setNoMaster(`vm${i}`);
      await h.deleteLink(`vm${i}`);
    }
    await h.deleteLink('br0');
    show(await h.listLinks(), []);
  } finally {
    h.close();
  }
}

async function main(): Promise<void> {
  const ns = `hwdemo${process.pid}`;
  step(`hostwire netns add ${ns}      (ip netns add ${ns})`);
  addNetns(ns);
  console.log(`   namespaces: ${listNetns().join(' ')}`);
  try {
    await kernelWalk(ns);
  } finally {
    deleteNetns(ns);
    step(`hostwire netns del ${ns}: nothing left behind`);
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`demo failed: ${e.code ?? ''} ${e.message}`);
    process.exitCode = 1;
  });
}
