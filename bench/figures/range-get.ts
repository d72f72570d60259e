import { downloadExpecting } from "../curl.js";
import { sizeLabel, type FigureDefinition, type Sizes } from "../figure.js";
import type { BlobFile } from "../http-client.js";
import { median } from "../stats.js";
import { megabytesPerSecond } from "../timing.js";

/** Repeated within a pair: one 64 MiB GET lasts tens of milliseconds, too short to time alone. */
const REPEATS = 5;

export const rangeGetFigure = (sizes: Sizes): FigureDefinition => ({
  id: "range_get",
  title: `Range GET ${sizeLabel(sizes.rangeBytes)} mid-blob`,
  unit: "MB/s",
  better: "higher",
  targets: [],
});

/** Median throughput of Range GETs of `rangeBytes` from the middle of the blob. */
export async function measureRangeGet(url: string, repository: string, blob: BlobFile, rangeBytes: number): Promise<number> {
  const start = Math.max(0, Math.floor((blob.size - rangeBytes) / 2));
  const end = Math.min(blob.size, start + rangeBytes) - 1;
  const rates: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const got = await downloadExpecting(`${url}/v2/${repository}/blobs/${blob.digest}`, 206, end - start + 1, {
      Range: `bytes=${start}-${end}`,
    });
    rates.push(megabytesPerSecond(end - start + 1, got.seconds));
  }
  return median(rates);
}
