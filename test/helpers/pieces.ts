/** Pieces of uneven sizes, as a socket delivers them. */
export async function* pieces(data: Buffer, sizes = [65_536, 1, 300_000, 7, 1_048_576, 12_345]): AsyncGenerator<Buffer> {
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - off);
    yield data.subarray(off, off + n);
    off += n;
  }
}
