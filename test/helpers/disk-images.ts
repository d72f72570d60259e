import { execFileSync } from "node:child_process";
import { createReadStream, statSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import tar from "tar-stream";
import type { LayerSource } from "../../src/disk/index.js";

/** Real disk images for tests, made by qemu-img and xorriso (see ../../../shared/CLIENTS.md). */

export function qemuImg(...args: string[]): string {
  // qemu times its LUKS key-derivation benchmark with getrusage; on a loaded machine that can
  // read zero CPU and qemu gives up ("Unable to get accurate CPU usage"). That is the host, not
  // the image: try again, a bounded number of times.
  for (let attempt = 1; ; attempt++) {
    try {
      return execFileSync("qemu-img", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? "");
      if (attempt >= 5 || !stderr.includes("Unable to get accurate CPU usage")) throw err;
    }
  }
}

/** What qemu says about an image: the reference our detection must agree with. */
export function qemuInfo(file: string): { format: string; virtualSize: number } {
  const info = JSON.parse(qemuImg("info", "--output=json", file)) as { format: string; "virtual-size": number };
  return { format: info.format, virtualSize: info["virtual-size"] };
}

export function sha256sum(file: string): string {
  return execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0]!;
}

export function md5sum(file: string): string {
  return execFileSync("md5sum", [file], { encoding: "utf8" }).split(" ")[0]!;
}

/** A raw disk with `dataBytes` of random data at the start (so checksums are not trivial). */
export function makeRaw(dir: string, name: string, size: string, dataBytes = 1024 * 1024): string {
  const file = path.join(dir, name);
  qemuImg("create", "-q", "-f", "raw", file, size);
  execFileSync("dd", ["if=/dev/urandom", `of=${file}`, "bs=64k", `count=${Math.ceil(dataBytes / 65536)}`, "conv=notrunc", "status=none"]);
  return file;
}

export function convert(source: string, target: string, format: string, ...options: string[]): string {
  qemuImg("convert", "-O", format, ...options, source, target);
  return target;
}

export function makeIso(dir: string, name: string, volumeId = "DVCRTEST"): string {
  const content = path.join(dir, `${name}.d`);
  execFileSync("mkdir", ["-p", content]);
  execFileSync("dd", ["if=/dev/urandom", `of=${path.join(content, "payload.bin")}`, "bs=64k", "count=4", "status=none"]);
  const file = path.join(dir, name);
  execFileSync("xorriso", ["-as", "mkisofs", "-quiet", "-V", volumeId, "-o", file, content], { stdio: "pipe" });
  return file;
}

export interface TarEntrySpec {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  data?: Buffer;
  /** A file on disk to stream as the entry's content. */
  file?: string;
  linkname?: string;
}

/** Build a layer tar (optionally gzip) as podman/the importer would: `disk/` then the disk file. */
export async function tarLayer(entries: TarEntrySpec[], gzip = false): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? "file";
    if (e.file) {
      const size = statSync(e.file).size;
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry({ name: e.name, size, type: "file", mode: 0o644 }, (err) => (err ? reject(err) : resolve()));
        createReadStream(e.file!).pipe(sink);
      });
    } else {
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name: e.name, type, linkname: e.linkname, mode: type === "directory" ? 0o755 : 0o644 }, e.data ?? Buffer.alloc(0), (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
  }
  pack.finalize();
  await collected;
  const tarBytes = Buffer.concat(chunks);
  return gzip ? zlib.gzipSync(tarBytes, { level: 1 }) : tarBytes;
}

/** The usual disk layer: a `disk` directory and one file. */
export function diskLayer(file: string, name = path.basename(file), gzip = false): Promise<Buffer> {
  return tarLayer([{ name: "disk", type: "directory" }, { name: `disk/${name}`, file }], gzip);
}

/** A layer held in memory. */
export function bufferSource(data: Buffer): LayerSource {
  return {
    size: data.length,
    async read(start, end) {
      return Readable.from([data.subarray(start, end + 1)]);
    },
  };
}

/** A 512-byte ustar header for one regular file, with any declared size (even one never written). */
export function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  if (size < 8 * 1024 ** 3) header.write(size.toString(8).padStart(11, "0") + "\0", 124);
  else {
    // 8 GiB and more do not fit 11 octal digits: GNU base-256 (high bit set, big-endian).
    header[124] = 0x80;
    header.writeBigUInt64BE(BigInt(size), 124 + 4);
  }
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\x0000", 257, "latin1");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return header;
}

/**
 * A gzip stream that starts with `prefix` and then inflates to zeros for ever (or for
 * `segments` MiB): each segment is 1 MiB of zeros deflated after a full flush, so it can be
 * repeated without back-references and costs about 1 KiB. It never carries an end marker.
 */
export function endlessZeroGzip(prefix: Buffer, segments = Infinity): Readable {
  const deflate = (input: Buffer) => zlib.deflateRawSync(input, { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const head = deflate(prefix);
  const segment = deflate(Buffer.alloc(1024 * 1024));
  const gzipHeader = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);
  function* generate() {
    yield Buffer.concat([gzipHeader, head]);
    for (let i = 0; i < segments; i++) yield segment;
  }
  return Readable.from(generate(), { objectMode: false });
}

/** A layer whose bytes come from `make()` each time (possibly endless); ranges are honoured. */
export function generatedSource(size: number, make: () => Readable): LayerSource {
  return {
    size,
    async read(start, end) {
      async function* slice() {
        let offset = 0;
        for await (const chunk of make()) {
          const buf = chunk as Buffer;
          const from = Math.max(start - offset, 0);
          const to = Math.min(end + 1 - offset, buf.length);
          if (from < to) yield buf.subarray(from, to);
          offset += buf.length;
          if (offset > end) return;
        }
      }
      return Readable.from(slice());
    },
  };
}
