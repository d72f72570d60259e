import { createHash } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { Samples, Sizes } from "./figure.js";
import { imageDocuments } from "./fixtures.js";
import { currentRssMiB, IDLE_SETTLE_MS } from "./figures/memory.js";
import { peakRssMiB } from "./figures/peak-rss.js";
import { measurePull } from "./figures/pull.js";
import { measurePushChunked } from "./figures/push-chunked.js";
import { measurePushMonolithic } from "./figures/push-monolithic.js";
import { measureRangeGet } from "./figures/range-get.js";
import { measureSkopeoPull, measureSkopeoPush, type DiskImageLayout } from "./figures/skopeo-image.js";
import { measureUnderLoad, type LoadSettings, type SeededImage } from "./figures/under-load.js";
import { pushBytes, putManifest, type BlobFile } from "./http-client.js";
import type { CachePolicy } from "./page-cache.js";
import type { RegistryLauncher, RunningRegistry } from "./servers.js";

/** Everything a phase needs: the fixtures, the sizes and where to put server roots. */
export interface BenchPlan {
  blob: BlobFile;
  disk: DiskImageLayout;
  sizes: Sizes;
  load: LoadSettings;
  /** Tags of the seeded image (the tags list returns them all). */
  tagCount: number;
  workDir: string;
  cache: CachePolicy;
}

/** One phase against one registry: a fresh server (or several in turn), some figures. */
export type Phase = (launcher: RegistryLauncher, plan: BenchPlan, label: string) => Promise<Samples>;

const REPOSITORY = "bench/blob";
const IMAGE_REPOSITORY = "cvi/bench-disk";

function freshRoot(plan: BenchPlan, label: string): string {
  const root = path.join(plan.workDir, "roots", label);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(path.dirname(root), { recursive: true });
  return root;
}

async function withServer<T>(launcher: RegistryLauncher, root: string, fn: (server: RunningRegistry) => Promise<T>): Promise<T> {
  const server = await launcher.start(root);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** The config and manifest of an image around the big blob, under `tagCount` tags. */
async function seedImage(server: RunningRegistry, plan: BenchPlan): Promise<SeededImage> {
  const docs = imageDocuments(plan.blob);
  await pushBytes(server.url, REPOSITORY, docs.config, docs.configDigest);
  const empty = Buffer.alloc(0);
  const emptyDigest = `sha256:${createHash("sha256").update(empty).digest("hex")}`;
  await pushBytes(server.url, REPOSITORY, empty, emptyDigest);
  const tags = Array.from({ length: plan.tagCount }, (_, i) => (i === 0 ? "latest" : `v${String(i).padStart(3, "0")}`));
  for (const tag of tags) await putManifest(server.url, REPOSITORY, tag, docs.manifest, docs.mediaType);
  await server.idle(REPOSITORY, "latest");
  return { repository: REPOSITORY, tag: "latest", manifestDigest: docs.manifestDigest, headBlobDigest: emptyDigest };
}

/**
 * Monolithic push into an empty registry (throughput, peak RSS); then, from a fresh process over
 * the same root and a cold page cache, the pull (throughput, peak RSS), Range GETs and the
 * request-rate figures.
 */
export const blobPhase: Phase = async (launcher, plan, label) => {
  const root = freshRoot(plan, label);
  const samples: Samples = {};
  try {
    const image = await withServer(launcher, root, async (server) => {
      await plan.cache.reset([plan.blob.path]);
      samples.push_monolithic = await measurePushMonolithic(server.url, REPOSITORY, plan.blob);
      samples.rss_push_monolithic = peakRssMiB(server);
      return seedImage(server, plan);
    });
    await plan.cache.reset();
    await withServer(launcher, root, async (server) => {
      samples.pull = await measurePull(server.url, REPOSITORY, plan.blob);
      samples.rss_pull = peakRssMiB(server);
      samples.range_get = await measureRangeGet(server.url, REPOSITORY, plan.blob, plan.sizes.rangeBytes);
      Object.assign(samples, await measureUnderLoad(server.url, image, plan.load));
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return samples;
};

/** Chunked push into an empty registry: throughput and peak RSS. */
export const chunkedPhase: Phase = async (launcher, plan, label) => {
  const root = freshRoot(plan, label);
  try {
    return await withServer(launcher, root, async (server) => {
      await plan.cache.reset([plan.blob.path]);
      const push_chunked = await measurePushChunked(server.url, REPOSITORY, plan.blob, plan.sizes.chunkBytes);
      return { push_chunked, rss_push_chunked: peakRssMiB(server) };
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

/** A real client end to end: skopeo pushes the disk image, then pulls it back out (cold cache). */
export const skopeoPhase: Phase = async (launcher, plan, label) => {
  const root = freshRoot(plan, label);
  try {
    return await withServer(launcher, root, async (server) => {
      await plan.cache.reset([plan.disk.layerFile]);
      const skopeo_push = await measureSkopeoPush(server.url, IMAGE_REPOSITORY, plan.disk);
      await server.idle(IMAGE_REPOSITORY, "latest");
      await plan.cache.reset();
      const skopeo_pull = await measureSkopeoPull(server.url, IMAGE_REPOSITORY, plan.disk, path.join(plan.workDir, `pulled-${label}`));
      return { skopeo_push, skopeo_pull };
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

/**
 * Memory of one process over a whole working day in miniature: its RSS at idle, then the peak
 * (VmHWM) after a monolithic push, a pull and the request-rate load, all in the same process.
 */
export const memoryPhase: Phase = async (launcher, plan, label) => {
  const root = freshRoot(plan, label);
  try {
    return await withServer(launcher, root, async (server) => {
      await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
      const rss_idle = currentRssMiB(server);
      await plan.cache.reset([plan.blob.path]);
      await measurePushMonolithic(server.url, REPOSITORY, plan.blob);
      const image = await seedImage(server, plan);
      await plan.cache.reset();
      await measurePull(server.url, REPOSITORY, plan.blob);
      await measureUnderLoad(server.url, image, plan.load);
      return { rss_idle, rss_peak_mixed: peakRssMiB(server) };
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

export const PHASES: { name: string; run: Phase }[] = [
  { name: "blob", run: blobPhase },
  { name: "chunked", run: chunkedPhase },
  { name: "skopeo", run: skopeoPhase },
  { name: "memory", run: memoryPhase },
];
