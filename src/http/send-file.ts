import type { FileHandle } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { Context } from "koa";
import { MEBIBYTE_BLOCKS, pumpFileRange, type BlockSink } from "../storage/index.js";
import { responseSending } from "./idle-timeouts.js";

/** 1 MiB blocks, 8 in rotation: 8 MiB per transfer (the fastest cold-cache pull of 1×8, 2×4, 2×8, 4×4 MiB in bench/). */
const SEND_DEPTH = 8;

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
 * Answer with bytes [start, end] of `file` (status and headers are already on ctx), written to
 * the socket by us rather than piped by Koa, so that the buffers are reused (see pumpFileRange).
 * Closes the file. A read error after the headers went out cuts the connection (errors.ts), so
 * the client sees a short body, never wrong bytes.
 */
export async function sendFileRange(ctx: Context, file: FileHandle, start: number, end: number): Promise<void> {
  try {
    ctx.respond = false;
    responseSending(ctx.res);
    ctx.res.flushHeaders();
    await pumpFileRange(file, start, end, responseSink(ctx.res), { blocks: MEBIBYTE_BLOCKS, depth: SEND_DEPTH });
    ctx.res.end();
  } catch (err) {
    if (err instanceof ClientGone) return;
    throw err;
  } finally {
    await file.close();
  }
}
