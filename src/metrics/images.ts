import { Gauge } from "prom-client";
import { metricsRegistry } from "./registry.js";

/** What the disk-index gauges read at scrape time (aggregated from the index by the indexer). */
export interface ImageStats {
  /** Tagged images (distinct repository + manifest), by owner kind and disk format. */
  images: { kind: string; format: string; count: number }[];
  /** Sums over the same images, by owner kind. */
  bytes: { kind: string; virtual: number; stored: number }[];
  /** Manifests waiting for or in a pass. */
  queued: { probe: number; checksum: number };
}

type StatsSource = () => Promise<ImageStats>;

/** The index the gauges describe: the most recently started one (one per process in production). */
let source: StatsSource | undefined;
let scrape: { at: number; stats: Promise<ImageStats | undefined> } | undefined;

export function setImageStatsSource(next: StatsSource): () => void {
  source = next;
  return () => {
    if (source === next) source = undefined;
  };
}

/** One aggregation per scrape, shared by the gauges below (they are collected back to back). */
function stats(): Promise<ImageStats | undefined> {
  const now = Date.now();
  // A failed aggregation (the database closing) reads as no images rather than failing the scrape.
  if (!scrape || now - scrape.at > 1000) scrape = { at: now, stats: source ? source().catch(() => undefined) : Promise.resolve(undefined) };
  return scrape.stats;
}

function indexGauge<L extends string>(name: string, help: string, labelNames: readonly L[], fill: (gauge: Gauge<L>, s: ImageStats) => void): Gauge<L> {
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [metricsRegistry],
    async collect() {
      const s = await stats();
      // Label sets come and go with the images: start from zero each scrape.
      this.reset();
      if (s) fill(this, s);
    },
  });
}

export const imageGauges = [
  indexGauge("dvcr_images", "Tagged images by owner kind (ClusterVirtualImage, VirtualImage, VirtualDisk, Image) and disk format (none: not a disk; indexing: not yet known)", ["kind", "format"], (g, s) => {
    for (const i of s.images) g.set({ kind: i.kind, format: i.format }, i.count);
  }),
  indexGauge("dvcr_images_virtual_bytes", "Sum of the virtual sizes of tagged disk images, by owner kind", ["kind"], (g, s) => {
    for (const b of s.bytes) g.set({ kind: b.kind }, b.virtual);
  }),
  indexGauge("dvcr_images_stored_bytes", "Sum of the stored (layer) sizes of tagged images, by owner kind", ["kind"], (g, s) => {
    for (const b of s.bytes) g.set({ kind: b.kind }, b.stored);
  }),
  indexGauge("dvcr_disk_index_queued", "Manifests waiting for or in an index pass (probe: format and sizes; checksum: sha256 and md5)", ["pass"], (g, s) => {
    g.set({ pass: "probe" }, s.queued.probe);
    g.set({ pass: "checksum" }, s.queued.checksum);
  }),
];
