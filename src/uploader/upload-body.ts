import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable } from "node:stream";
import { STAGE_HIGH_WATER_MARK } from "../importer/buffers.js";
import { ignore } from "../importer/stream-util.js";

/** The request body of one upload, as the importer's stream source reads it. */
export interface UploadBody {
  stream: Readable;
  /** Bytes the client declared (Content-Length), absent for a chunked body. */
  size?: number;
  /** True once the client went away before its body was complete. */
  cut(): boolean;
  /** After a failure: stop feeding the importer and read (and drop) whatever the client still sends. */
  discard(): void;
}

/**
 * The importer tears its source down when it fails; the request itself must survive that, since
 * its socket still has to carry the error response. So the engine reads a PassThrough fed from
 * the request, and a client that drops mid-body fails that stream (a pipe alone would end it
 * cleanly, or never).
 */
export function uploadBody(req: IncomingMessage): UploadBody {
  const stream = new PassThrough({ highWaterMark: STAGE_HIGH_WATER_MARK });
  let cut = false;
  const fail = (err?: Error) => {
    if (req.complete) return;
    cut = true;
    stream.destroy(err ?? new Error("the client closed the connection before the upload was complete"));
  };
  req.once("error", fail);
  req.once("close", () => fail());
  // The importer may fail before it reads the body (the destination's credentials): a client
  // dropping later must not raise an error nobody listens to.
  stream.on("error", ignore);
  req.pipe(stream);
  const declared = req.headers["content-length"];
  return {
    stream,
    size: declared === undefined ? undefined : Number(declared),
    cut: () => cut,
    discard() {
      req.unpipe(stream);
      stream.destroy();
      req.resume();
    },
  };
}
