import { sizeLabel, type FigureDefinition, type Sizes } from "../figure.js";
import { pushChunked, type BlobFile } from "../http-client.js";
import { megabytesPerSecond, timed } from "../timing.js";
import { pushTargets } from "./push-monolithic.js";

export const pushChunkedFigure = (sizes: Sizes): FigureDefinition => ({
  id: "push_chunked",
  title: `push ${sizeLabel(sizes.blobBytes)} chunked (${sizeLabel(sizes.chunkBytes)} PATCHes)`,
  unit: "MB/s",
  better: "higher",
  targets: pushTargets,
});

/** Throughput of one chunked push: POST, every PATCH with Content-Range, the closing PUT. */
export async function measurePushChunked(url: string, repository: string, blob: BlobFile, chunkBytes: number): Promise<number> {
  return megabytesPerSecond(blob.size, await timed(() => pushChunked(url, repository, blob, chunkBytes)));
}
