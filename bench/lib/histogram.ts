/**
 * Latency histogram in microseconds: exact below 128 µs, then 128 buckets per power of two (under 1%
 * error). Fixed size, so recording a delivery allocates nothing, and histograms from several
 * processes merge by adding counts.
 */
const SUB = 128;
const SUB_BITS = 7;
const OCTAVES = 30;
const SIZE = SUB + OCTAVES * SUB;

function indexOf(us: number): number {
  if (us < SUB) return us < 0 ? 0 : Math.floor(us);
  const exponent = Math.min(Math.floor(Math.log2(us)), SUB_BITS + OCTAVES - 1);
  const base = 2 ** exponent;
  const sub = Math.min(Math.floor(((us - base) / base) * SUB), SUB - 1);
  return SUB + (exponent - SUB_BITS) * SUB + sub;
}

function valueOf(index: number): number {
  if (index < SUB) return index;
  const exponent = Math.floor((index - SUB) / SUB) + SUB_BITS;
  const sub = (index - SUB) % SUB;
  const base = 2 ** exponent;
  return base + ((sub + 0.5) / SUB) * base;
}

export class Histogram {
  readonly counts = new Float64Array(SIZE);
  total = 0;

  record(us: number): void {
    const i = indexOf(us);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total++;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /** Sparse form for IPC: [index, count] pairs. */
  toJSON(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < SIZE; i++) {
      const n = this.counts[i] ?? 0;
      if (n > 0) out.push([i, n]);
    }
    return out;
  }

  add(sparse: readonly (readonly [number, number])[]): void {
    for (const [i, n] of sparse) {
      this.counts[i] = (this.counts[i] ?? 0) + n;
      this.total += n;
    }
  }

  /** The value at quantile `q` (0..1) in µs, or NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return valueOf(i);
    }
    return valueOf(SIZE - 1);
  }
}
