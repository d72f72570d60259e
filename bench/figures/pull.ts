import { downloadExpecting } from "../curl.js";
import { sizeLabel, type FigureDefinition, type Sizes } from "../figure.js";
import type { BlobFile } from "../http-client.js";
import { megabytesPerSecond } from "../timing.js";

export const pullFigure = (sizes: Sizes): FigureDefinition => ({
  id: "pull",
  title: `pull ${sizeLabel(sizes.blobBytes)} (GET to /dev/null, cold cache)`,
  unit: "MB/s",
  better: "higher",
  targets: [{ kind: "ratio", atLeast: 0.8 }],
});

/** Throughput of one GET of the whole blob. */
export async function measurePull(url: string, repository: string, blob: BlobFile): Promise<number> {
  const got = await downloadExpecting(`${url}/v2/${repository}/blobs/${blob.digest}`, 200, blob.size);
  return megabytesPerSecond(blob.size, got.seconds);
}
