import { sizeLabel, type FigureDefinition, type Sizes } from "../figure.js";
import { pushMonolithic, type BlobFile } from "../http-client.js";
import { megabytesPerSecond, timed } from "../timing.js";

/** The push targets: twice the reference, and 60 % of what hashing plus fsync allow here. */
export const pushTargets: FigureDefinition["targets"] = [
  { kind: "ratio", atLeast: 2.0 },
  { kind: "limit", limit: "hashAndFsync", fractionAtLeast: 0.6 },
];

export const pushMonolithicFigure = (sizes: Sizes): FigureDefinition => ({
  id: "push_monolithic",
  title: `push ${sizeLabel(sizes.blobBytes)} monolithic (POST + PUT)`,
  unit: "MB/s",
  better: "higher",
  targets: pushTargets,
});

/** Throughput of one monolithic push: from the POST to the 201 of the PUT. */
export async function measurePushMonolithic(url: string, repository: string, blob: BlobFile): Promise<number> {
  return megabytesPerSecond(blob.size, await timed(() => pushMonolithic(url, repository, blob)));
}
