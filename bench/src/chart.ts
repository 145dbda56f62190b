// A small SVG of a run: one panel per scenario, a horizontal bar per target scaled to the panel's
// largest value, labelled with the value and its ratio to direct. No dependencies.

export interface Panel {
  title: string;
  unit: string;
  bars: { label: string; value: number }[];
  /** Label of the bar others are compared with, if any. */
  reference?: string;
}

const COLORS: Record<string, string> = {
  direct: '#7f8c8d',
  'zt (1 worker)': '#2e86de',
  'zt (2 workers)': '#54a0ff',
  'stunnel pair': '#e67e22',
  'HAProxy pair': '#27ae60',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderSvg(title: string, subtitle: string, panels: Panel[]): string {
  const width = 760;
  const barH = 18;
  const gap = 6;
  const labelW = 130;
  const valueW = 170;
  const plotW = width - labelW - valueW - 20;
  let y = 56;
  const parts: string[] = [
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="40" font-size="11" fill="#555">${esc(subtitle)}</text>`,
  ];
  for (const p of panels) {
    parts.push(
      `<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${esc(p.title)} (${esc(p.unit)})</text>`,
    );
    y += 20;
    const finite = p.bars.filter((b) => Number.isFinite(b.value));
    const max = Math.max(1e-9, ...finite.map((b) => b.value));
    const ref = p.reference ? p.bars.find((b) => b.label === p.reference)?.value : undefined;
    for (const b of p.bars) {
      const w = Number.isFinite(b.value) ? Math.max(1, (b.value / max) * plotW) : 0;
      const ratio = ref && ref > 0 && b.label !== p.reference ? `  x${(b.value / ref).toFixed(2)}` : '';
      parts.push(
        `<text x="10" y="${y + 13}" font-size="12">${esc(b.label)}</text>`,
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[b.label] ?? '#8e44ad'}"/>`,
        `<text x="${labelW + w + 6}" y="${y + 13}" font-size="12">${Number.isFinite(b.value) ? b.value.toPrecision(3) : 'n/a'}${ratio}</text>`,
      );
      y += barH + gap;
    }
    y += 10;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" viewBox="0 0 ${width} ${y + 10}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
