import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { promisify } from "node:util";
import { sizeLabel, type FigureDefinition, type Sizes } from "../figure.js";
import { megabytesPerSecond, timed } from "../timing.js";

const run = promisify(execFile);

export interface DiskImageLayout {
  /** `oci:<dir>:latest` */
  reference: string;
  /** Bytes of the image's one (uncompressed) layer, the bulk of what moves. */
  layerBytes: number;
  /** The layer's file in the layout. */
  layerFile: string;
}

export const skopeoFigures = (sizes: Sizes): FigureDefinition[] => [
  {
    id: "skopeo_push",
    title: `skopeo copy of a ${sizeLabel(sizes.blobBytes)} qcow2 image, OCI layout → registry`,
    unit: "MB/s",
    better: "higher",
    targets: [],
  },
  {
    id: "skopeo_pull",
    title: `skopeo copy of that image, registry → dir:`,
    unit: "MB/s",
    better: "higher",
    targets: [],
  },
];

function hostOf(url: string): string {
  return new URL(url).host;
}

/** `skopeo copy` into the registry; digests preserved, so the layer goes up uncompressed as importers push it. */
export async function measureSkopeoPush(url: string, repository: string, image: DiskImageLayout): Promise<number> {
  const dest = `docker://${hostOf(url)}/${repository}:latest`;
  const seconds = await timed(() => run("skopeo", ["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", image.reference, dest]));
  return megabytesPerSecond(image.layerBytes, seconds);
}

/** `skopeo copy` back out into a `dir:` (blobs written as they come). */
export async function measureSkopeoPull(url: string, repository: string, image: DiskImageLayout, outDir: string): Promise<number> {
  const src = `docker://${hostOf(url)}/${repository}:latest`;
  try {
    const seconds = await timed(() => run("skopeo", ["copy", "--quiet", "--src-tls-verify=false", src, `dir:${outDir}`]));
    return megabytesPerSecond(image.layerBytes, seconds);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
