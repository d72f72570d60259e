import type { ServerResponse } from "node:http";
import type { Context } from "koa";
import type { BlobReader, BlockSink } from "../storage/index.js";
import { responseSending } from "./idle-timeouts.js";

/** The client closed the connection before the body was sent: nothing left to answer. */
class ClientGone extends Error {
  readonly code = "ERR_STREAM_PREMATURE_CLOSE";
  constructor() {
    super("client closed the connection during the response body");
  }
}

/** Each block goes to the socket; its buffer is free again once Node has handed it to the kernel. */
function responseSink(res: ServerResponse): BlockSink {
  return (block) =>
    new Promise<void>((resolve, reject) => {
      if (res.destroyed) return reject(new ClientGone());
      const onClose = () => reject(new ClientGone());
      res.once("close", onClose);
      res.write(block, (err) => {
        res.off("close", onClose);
        if (err) reject(err);
        else resolve();
      });
    });
}

/**
 * Answer with the reader's bytes (status and headers are already on ctx), written to the socket
 * by us rather than piped by Koa, so that the storage driver's buffers are reused block after
 * block. Closes the reader. A read error after the headers went out cuts the connection
 * (errors.ts), so the client sees a short body, never wrong bytes.
 */
export async function sendBlobRange(ctx: Context, reader: BlobReader): Promise<void> {
  try {
    ctx.respond = false;
    responseSending(ctx.res);
    ctx.res.flushHeaders();
    await reader.pipeTo(responseSink(ctx.res));
    ctx.res.end();
  } catch (err) {
    if (err instanceof ClientGone) return;
    throw err;
  } finally {
    await reader.close();
  }
}
