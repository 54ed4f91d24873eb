/**
 * Bulk delete through the kernel's batched unregister. Deleting devices one RTM_DELLINK at a
 * time costs an RCU grace period each (about 17 ms); RTM_DELLINK for a whole netdev group
 * unregisters them together, with one. To use it without ever touching a device the caller did
 * not name, the named devices are moved into a fresh random group, a dump confirms that group
 * holds exactly them, and only then is the group deleted. Anything unexpected falls back to
 * deleting one by one.
 */
import { randomInt } from 'crypto';
import type * as rt from 'netlink/dist/rt/structs';
import { IFLA_EXT_MASK, NLM_F_DUMP, RTEXT_FILTER_SKIP_STATS, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTM_SETLINK } from './constants';
import { NetlinkError } from './errors';
import type { Handle } from './handle';
import { attr, decodeLinkMessage, encodeLinkPayload } from './wire';

const skipStats = () => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(RTEXT_FILTER_SKIP_STATS);
  return attr(IFLA_EXT_MASK, b);
};

/** Every link of the namespace as index -> [name, group], in one dump. */
async function groupsByIndex(h: Handle): Promise<Map<number, [string, number]>> {
  const msgs = await h.socket.request(RTM_GETLINK, encodeLinkPayload({} as rt.Link, {}, [skipStats()]), 'link show', NLM_F_DUMP);
  const out = new Map<number, [string, number]>();
  for (const m of msgs) {
    if (m.type !== RTM_NEWLINK) continue;
    const { data, attrs } = decodeLinkMessage(m);
    out.set(data.index ?? 0, [attrs.ifname ?? '', attrs.group ?? 0]);
  }
  return out;
}

/**
 * Deletes the devices named (by name or index), one result per device (null when deleted).
 * Equivalent to: ip link set DEV group G (each) && ip link del group G
 */
export async function deleteMany(h: Handle, devs: Array<string | number>): Promise<Array<Error | null>> {
  const links = await groupsByIndex(h);
  const byName = new Map([...links].map(([ix, [name]]) => [name, ix]));
  const results: Array<Error | null> = devs.map(() => null);
  const wanted = new Map<number, number>(); // ifindex -> position in devs
  devs.forEach((d, k) => {
    const ix = typeof d === 'number' ? (links.has(d) ? d : undefined) : byName.get(d);
    if (ix === undefined) results[k] = new NetlinkError(19, `link del ${d}`, `Cannot find device "${d}"`);
    else if (wanted.has(ix)) results[k] = new NetlinkError(19, `link del ${d}`, 'named twice in one batch');
    else wanted.set(ix, k);
  });
  if (wanted.size === 0) return results;

  const used = new Set([...links.values()].map(([, g]) => g));
  let group = 0;
  while (group === 0 || used.has(group)) group = randomInt(1 << 20, 0x7fffffff);
  const setGroup = (ix: number) =>
    h.socket.request(RTM_SETLINK, encodeLinkPayload({ index: ix } as rt.Link, { group }), `link set ${links.get(ix)?.[0]} group ${group}`);
  const oneByOne = async () => {
    await Promise.all(
      [...wanted].map(([ix, k]) =>
        h.deleteLink(ix).then(
          () => (results[k] = null),
          (e: Error) => (results[k] = e),
        ),
      ),
    );
    return results;
  };

  const grouped = await Promise.allSettled([...wanted.keys()].map(setGroup));
  if (grouped.some((g) => g.status === 'rejected')) return oneByOne();
  // The group must hold exactly the named devices, nothing else.
  const after = await groupsByIndex(h);
  const members = [...after].filter(([, [, g]]) => g === group).map(([ix]) => ix);
  if (members.length !== wanted.size || !members.every((ix) => wanted.has(ix))) return oneByOne();
  try {
    const payload = encodeLinkPayload({ index: 0 } as rt.Link, { group });
    await h.socket.request(RTM_DELLINK, payload, `link del group ${group}`);
    return results;
  } catch {
    // e.g. EOPNOTSUPP: a device kind without dellink. The kernel checks them all first and
    // deletes none, so fall back.
    return oneByOne();
  }
}
