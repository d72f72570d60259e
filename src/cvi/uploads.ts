import { randomBytes } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import type { Logger } from "pino";
import type { Checksum, ImportDestination, ImportProgress, ImportResult } from "../importer/index.js";
import type { ImportRunner } from "./ports.js";

/** A random upload token: 48 alphanumerics (DVCR's are 32), the secret of an upload URL. */
export function newUploadToken(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const bytes = randomBytes(64);
  let token = "";
  // Rejection sampling keeps the distribution uniform (62 does not divide 256).
  for (const b of bytes) if (b < 248 && token.length < 48) token += alphabet[b % 62];
  return token.length === 48 ? token : newUploadToken();
}

export const UPLOAD_TOKEN = /^[A-Za-z0-9]{32,128}$/;

/** Which image an upload URL fills, and how its bytes are checked and pushed. */
export interface UploadTarget {
  name: string;
  uid: string;
  generation: number;
  checksums: Checksum[];
  destination: () => Promise<ImportDestination>;
}

/** What the controller is told about an upload (it writes the status). */
export interface UploadEvents {
  started(target: UploadTarget, totalBytes: number | undefined): void;
  progress(target: UploadTarget, progress: ImportProgress): void;
  succeeded(target: UploadTarget, result: ImportResult): Promise<void>;
  dropped(target: UploadTarget, receivedBytes: number): Promise<void>;
  failed(target: UploadTarget, err: unknown): Promise<void>;
}

/** Upload refusals, each with the HTTP status it is answered with. */
export class UploadRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly offset?: number,
  ) {
    super(message);
  }
}

interface Session {
  token: string;
  target: UploadTarget;
  active?: AbortController;
}

export interface ReceiveRequest {
  body: IncomingMessage;
  /** From Content-Range `bytes <start>-<end>/<total>` (a resumed upload: curl -C). */
  start: number;
  totalBytes?: number;
  fileName: string;
}

/** Both streams, one after the other (a resumed upload: the staged prefix, then the new body). */
function concat(first: Readable, second: Readable): Readable {
  return Readable.from(
    (async function* () {
      yield* first;
      yield* second;
    })(),
    { objectMode: false },
  );
}

/**
 * The upload URLs of Upload images: one session per waiting image, keyed by its token. A body
 * streams into the importer (decompressed and packed like any import) while it is also staged on
 * disk, so a dropped upload resumes with `curl -C <offset> -T` from where the staging ends; the
 * importer then reads the staged prefix and the rest of the new body as one stream.
 */
export class UploadSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly runImport: ImportRunner,
    private readonly stagingDir: string,
    private readonly events: UploadEvents,
    private readonly logger: Logger,
  ) {}

  open(token: string, target: UploadTarget): void {
    const existing = this.sessions.get(token);
    if (existing?.active) return; // an upload is running for this very session
    this.sessions.set(token, { token, target });
  }

  has(token: string): boolean {
    return this.sessions.has(token);
  }

  isActive(token: string): boolean {
    return this.sessions.get(token)?.active !== undefined;
  }

  /** End a session: cancel a running upload and forget the staged bytes. */
  async close(token: string): Promise<void> {
    const session = this.sessions.get(token);
    this.sessions.delete(token);
    session?.active?.abort();
    await fs.rm(this.stagingFile(token), { force: true });
  }

  /** Bytes staged so far: where a resumed upload continues. */
  async offset(token: string): Promise<number> {
    try {
      return (await fs.stat(this.stagingFile(token))).size;
    } catch {
      return 0;
    }
  }

  describe(token: string): { name: string; receiving: boolean } | undefined {
    const s = this.sessions.get(token);
    return s && { name: s.target.name, receiving: s.active !== undefined };
  }

  async receive(token: string, request: ReceiveRequest): Promise<ImportResult> {
    const session = this.sessions.get(token);
    if (!session) throw new UploadRefusal(404, "no upload is expected at this URL (it is wrong, or the image was already uploaded)");
    if (session.active) throw new UploadRefusal(409, "an upload to this image is already in progress");
    const staged = await this.offset(token);
    if (request.start !== 0 && request.start !== staged) {
      throw new UploadRefusal(416, `this upload can resume at byte ${staged} only (curl -C ${staged} -T <file> <url>)`, staged);
    }
    const controller = new AbortController();
    session.active = controller;
    const { target } = session;
    await fs.mkdir(this.stagingDir, { recursive: true });
    const file = await fs.open(this.stagingFile(token), request.start === 0 ? "w" : "a");
    let received = request.start;
    let dropped = false;
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        file.write(chunk).then(
          () => {
            received += chunk.length;
            callback(null, chunk);
          },
          (err: Error) => callback(err),
        );
      },
    });
    // The importer sees the drop through its own stream; this only keeps the error from going unhandled.
    tee.on("error", (err) => this.logger.debug({ image: target.name, err: err.message }, "upload stream ended early"));
    const body = request.body;
    body.on("close", () => {
      if (body.complete) return;
      dropped = true;
      tee.destroy(new Error("the client closed the connection before the upload was complete"));
      controller.abort();
    });
    body.pipe(tee);
    const stream = request.start > 0 ? concat(createReadStream(this.stagingFile(token), { end: request.start - 1 }), tee) : tee;
    this.events.started(target, request.totalBytes);
    try {
      const result = await this.runImport({
        source: { type: "stream", body: stream, size: request.totalBytes, fileName: request.fileName },
        destination: await target.destination(),
        checksums: target.checksums,
        signal: controller.signal,
        onProgress: (p) => this.events.progress(target, p),
      });
      await file.close();
      this.sessions.delete(token);
      await fs.rm(this.stagingFile(token), { force: true });
      await this.events.succeeded(target, result);
      return result;
    } catch (err) {
      await file.close().catch(() => undefined);
      if (this.sessions.get(token) !== session) throw new UploadRefusal(410, "the upload was cancelled: the image was deleted or changed");
      session.active = undefined;
      if (dropped) {
        this.logger.info({ image: target.name, receivedBytes: received }, "upload dropped; it can resume");
        await this.events.dropped(target, received);
        throw new UploadRefusal(400, `the upload was interrupted after ${received} bytes; resume it with curl -C ${received} -T <file> <url>`, received);
      }
      // Bytes that failed the import (checksum, corrupt) are not worth resuming from.
      this.sessions.delete(token);
      await fs.rm(this.stagingFile(token), { force: true });
      await this.events.failed(target, err);
      throw err;
    }
  }

  private stagingFile(token: string): string {
    return path.join(this.stagingDir, `${token}.part`);
  }
}
