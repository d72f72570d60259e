import type { IncomingMessage, ServerResponse } from "node:http";
import { DEFAULT_STALL_MS } from "../importer/engine.js";
import { importImage, type ImportDestination, type ImportProgress, type ImportResult, type ImportTuning } from "../importer/index.js";
import { uploadBody } from "./upload-body.js";
import { uploadFailure, type UploadFailure } from "./upload-failure.js";

/** DVCR's uploader serves one path; the ingress maps the user's `/upload/<token>` URL onto it. */
export const UPLOAD_PATH = "/upload";

/** The disk file's name in the layer: an upload body carries none. */
const UPLOAD_FILE_NAME = "disk.img";

export interface UploadHandlerOptions {
  destination: ImportDestination;
  tuning?: ImportTuning;
  onProgress?: (p: ImportProgress) => void;
  /** An upload began: the wait for one is over. */
  onStart(): void;
  /** The image is pushed and the client has its 200. */
  onSuccess(result: ImportResult): void;
  /** The upload failed and was answered; the handler waits for another. */
  onFailure(failure: UploadFailure): void;
  log(line: string): void;
}

type State = "waiting" | "busy" | "done" | "stopping";

/**
 * `/upload`: GET is a probe, PUT or POST a raw disk body (gz/xz as it comes) that the importer
 * packs and pushes. One upload at a time; a second one meanwhile gets 503, as DVCR's uploader.
 */
export class UploadHandler {
  private state: State = "waiting";
  private readonly cancel = new AbortController();
  private running?: Promise<void>;

  constructor(private readonly options: UploadHandlerOptions) {}

  /** `Expect: 100-continue`: refuse before the client sends a byte of a body that would be refused. */
  checkContinue(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.isUpload(req) && this.state === "waiting") res.writeContinue();
    return this.handle(req, res);
  }

  /** Resolves once the request is answered (an upload: pushed or failed). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? "/", "http://uploader").pathname;
    if (pathname !== UPLOAD_PATH) return sendJson(res, 404, { message: `no such path ${pathname}: uploads go to ${UPLOAD_PATH}` });
    if (req.method === "GET" || req.method === "HEAD") return sendJson(res, 200, { message: this.state === "waiting" ? "waiting for an upload" : `upload ${this.state}` });
    if (!this.isUpload(req)) {
      res.setHeader("Allow", "GET, HEAD, PUT, POST");
      return sendJson(res, 405, { message: `${req.method} is not allowed on ${UPLOAD_PATH} (PUT or POST the disk, GET to probe)` });
    }
    if (this.state !== "waiting") {
      const why = this.state === "busy" ? "another upload is in progress" : "the uploader is shutting down";
      return sendJson(res, 503, { message: `${why}; try again later` });
    }
    this.state = "busy";
    this.running = this.upload(req, res);
    return this.running;
  }

  /** Cancel an upload in flight (its temporary data is freed) and refuse new ones. */
  async stop(): Promise<void> {
    if (this.state !== "done") this.state = "stopping";
    this.cancel.abort();
    await this.running;
  }

  private isUpload(req: IncomingMessage): boolean {
    return req.method === "PUT" || req.method === "POST";
  }

  private async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.options.onStart();
    // A peer that vanishes without a FIN must not hold the only upload slot for ever.
    req.socket.setKeepAlive(true, 60_000);
    const stallMs = this.options.tuning?.stallTimeoutMs ?? DEFAULT_STALL_MS;
    const body = uploadBody(req, stallMs);
    const started = Date.now();
    this.options.log(`upload started (${body.size === undefined ? "chunked" : `${body.size} bytes`})`);
    try {
      const result = await importImage({
        source: { type: "stream", body: body.stream, size: body.size, fileName: UPLOAD_FILE_NAME },
        destination: this.options.destination,
        signal: this.cancel.signal,
        onProgress: this.options.onProgress,
        tuning: this.options.tuning,
      });
      this.state = "done";
      const { destination } = this.options;
      this.options.log(`pushed ${destination.repository}:${destination.tag} (${result.sourceImageFormat}, ${result.sourceImageSize} bytes) in ${Date.now() - started} ms`);
      await sendJson(res, 200, {
        message: `uploaded: ${destination.repository}:${destination.tag}`,
        manifestDigest: result.manifestDigest,
        sourceImageFormat: result.sourceImageFormat,
        sourceImageSize: result.sourceImageSize,
        sourceImageVirtualSize: result.sourceImageVirtualSize,
      });
      this.options.onSuccess(result);
    } catch (err) {
      const failure = uploadFailure(err, body.interruption(), stallMs);
      this.options.log(`upload failed (${failure.status} ${failure.kind}): ${failure.message}`);
      // Keep-alive: the client stops sending once it reads the answer; what it sent meanwhile is read and dropped.
      body.discard();
      await sendJson(res, failure.status, { message: failure.message });
      if (this.state === "busy") this.state = "waiting";
      this.options.onFailure(failure);
    }
  }
}

/** Answer with `{"message": ...}` (and whatever else); resolves once the response is handed to the socket. */
export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) => {
    if (res.headersSent || res.destroyed) return resolve();
    const text = `${JSON.stringify(body)}\n`;
    res.once("close", resolve);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text, resolve);
  });
}
