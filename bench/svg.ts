/** A grouped bar chart of median ms per phase and implementation (log scale), as SVG. */
const COLORS: Record<string, string> = {
  'hostwire-batch': '#1b9e77',
  'hostwire-batch+getlink': '#66a61e',
  'hostwire-serial': '#7570b3',
  'ip-batch': '#d95f02',
  'ip-per-op': '#e7298a',
  'c-pipelined': '#666666',
  'c-getlink': '#a6761d',
  'c-getlink-create': '#e6ab02',
};

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function chart(
  taps: number,
  reps: number,
  results: Array<{ impl: string; phase: string; median_ms: number; scaled?: boolean }>,
): string {
  const phases = [...new Set(results.map((r) => r.phase))];
  const impls = [...new Set(results.map((r) => r.impl))];
  const W = 760,
    H = 360,
    left = 60,
    bottom = 40,
    top = 40,
    plotH = H - top - bottom;
  const max = Math.max(...results.map((r) => r.median_ms), 1);
  const min = Math.max(Math.min(...results.map((r) => r.median_ms)) / 2, 0.1);
  const y = (v: number) =>
    top + plotH - ((Math.log10(Math.max(v, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min) || 1)) * plotH;
  const groupW = (W - left - 20) / phases.length;
  const barW = (groupW - 16) / impls.length;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">tap churn, N=${taps}, median of ${reps} (ms, log scale)</text>`,
  ];
  for (let e = Math.ceil(Math.log10(min)); e <= Math.floor(Math.log10(max)); e++) {
    const v = 10 ** e;
    out.push(
      `<line x1="${left}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 4}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  phases.forEach((p, gi) => {
    const gx = left + gi * groupW + 8;
    impls.forEach((impl, ii) => {
      const r = results.find((x) => x.phase === p && x.impl === impl);
      if (!r) return;
      const x = gx + ii * barW;
      out.push(
        `<rect x="${x}" y="${y(r.median_ms)}" width="${barW - 2}" height="${top + plotH - y(r.median_ms)}" fill="${COLORS[impl] ?? '#999'}"><title>${esc(impl)} ${esc(p)}: ${r.median_ms} ms${r.scaled ? ' (scaled)' : ''}</title></rect>`,
      );
    });
    out.push(`<text x="${gx + (groupW - 16) / 2}" y="${H - bottom + 16}" text-anchor="middle">${esc(p)}</text>`);
  });
  const step = Math.min(150, (W - left) / impls.length);
  impls.forEach((impl, i) => {
    out.push(
      `<rect x="${left + i * step}" y="${H - 14}" width="10" height="10" fill="${COLORS[impl] ?? '#999'}"/><text x="${left + i * step + 14}" y="${H - 5}">${esc(impl)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
