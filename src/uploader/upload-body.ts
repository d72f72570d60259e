import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable } from "node:stream";
import { STAGE_HIGH_WATER_MARK } from "../importer/buffers.js";
import { ignore } from "../importer/stream-util.js";

/** Why a body stopped short, when the client is the reason. */
export type BodyInterruption = "cut" | "stalled";

/** The request body of one upload, as the importer's stream source reads it. */
export interface UploadBody {
  stream: Readable;
  /** Bytes the client declared (Content-Length), absent for a chunked body. */
  size?: number;
  /** Set once the client went away, or sent nothing for the stall timeout, before its body was complete. */
  interruption(): BodyInterruption | undefined;
  /** After a failure: stop feeding the importer and read (and drop) whatever the client still sends. */
  discard(): void;
}

/**
 * The importer tears its source down when it fails; the request itself must survive that, since
 * its socket still has to carry the error response. So the engine reads a PassThrough fed from
 * the request, and a client that drops mid-body fails that stream (a pipe alone would end it
 * cleanly, or never). A client that keeps the connection but sends nothing for `stallMs` would
 * hold the only upload slot: that is a stall, as for the importer's downloads.
 */
export function uploadBody(req: IncomingMessage, stallMs: number): UploadBody {
  const stream = new PassThrough({ highWaterMark: STAGE_HIGH_WATER_MARK });
  let interruption: BodyInterruption | undefined;
  const fail = (why: BodyInterruption, err?: Error) => {
    if (req.complete || interruption) return;
    interruption = why;
    stream.destroy(err ?? new Error(why === "cut" ? "the client closed the connection before the upload was complete" : "the upload stalled"));
  };
  req.once("error", (err) => fail("cut", err));
  req.once("close", () => fail("cut"));
  // The socket's idle timer: nothing read (nor written) for that long. Off once the body is in:
  // the push may take a while longer, and the client waits for its answer.
  req.setTimeout(stallMs, () => fail("stalled"));
  req.once("end", () => req.setTimeout(0));
  // The importer may fail before it reads the body (the destination's credentials): a client
  // dropping later must not raise an error nobody listens to.
  stream.on("error", ignore);
  req.pipe(stream);
  const declared = req.headers["content-length"];
  return {
    stream,
    size: declared === undefined ? undefined : Number(declared),
    interruption: () => interruption,
    discard() {
      req.setTimeout(0);
      req.unpipe(stream);
      stream.destroy();
      req.resume();
    },
  };
}
