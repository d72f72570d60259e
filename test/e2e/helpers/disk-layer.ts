import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import type { DiskImage } from "./disks.js";

/** The uid/gid DVCR's importer writes (the qemu user of the virt-launcher image). */
const IMPORTER_OWNER = 107;

/**
 * The layer tar DVCR's importer streams: a directory entry `disk`, then `disk/<file>` holding
 * the disk's bytes. Read lazily from the file: nothing is buffered beyond the streams' windows.
 */
export function diskLayerTar(disk: DiskImage): Readable {
  const pack = tar.pack();
  const mtime = new Date();
  pack.entry({ name: "disk", type: "directory", mode: 0o755, uid: IMPORTER_OWNER, gid: IMPORTER_OWNER, mtime });
  const entry = pack.entry(
    { name: `disk/${disk.fileName}`, type: "file", size: disk.size, mode: 0o644, uid: IMPORTER_OWNER, gid: IMPORTER_OWNER, mtime },
    (err) => (err ? pack.destroy(err) : pack.finalize()),
  );
  const source = createReadStream(disk.path, { highWaterMark: 1 << 20 });
  source.once("error", (err) => pack.destroy(err));
  source.pipe(entry);
  // tar-stream's streams are streamx streams; hand out a Node byte stream.
  return Readable.from(pack, { objectMode: false });
}

export interface LayerEntry {
  /** Entry name without a trailing slash (builders differ: podman writes `disk/`, the importer `disk`). */
  name: string;
  type: string;
  size: number;
  /** `sha256:<hex>` of the entry's bytes, for regular files. */
  digest?: string;
}

/** Stream-untar a layer (gunzipping it first if asked) and hash every regular file in it. */
export async function readLayer(source: Readable, gzip: boolean): Promise<LayerEntry[]> {
  const extract = tar.extract();
  const feeding = gzip ? pipeline(source, createGunzip(), extract) : pipeline(source, extract);
  const entries: LayerEntry[] = [];
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      const record: LayerEntry = { name: name.replace(/\/+$/, ""), type: type ?? "file", size: size ?? 0 };
      const hash = createHash("sha256");
      for await (const chunk of entry) hash.update(chunk as Buffer);
      if (record.type === "file") record.digest = `sha256:${hash.digest("hex")}`;
      entries.push(record);
    }
  } finally {
    await feeding;
  }
  return entries;
}

/** The layer's single `disk/<file>` entry; fails when the layer is not packed the way DVCR packs disks. */
export function diskEntry(entries: LayerEntry[]): LayerEntry {
  const files = entries.filter((e) => e.type === "file");
  const disk = files[0];
  if (files.length !== 1 || !disk || !/^disk\/[^/]+$/.test(disk.name)) {
    throw new Error(`expected one regular file disk/<file>, got ${JSON.stringify(entries)}`);
  }
  return disk;
}

export function isGzipLayer(mediaType: string): boolean {
  return mediaType.endsWith("+gzip") || mediaType.endsWith(".tar.gzip");
}
