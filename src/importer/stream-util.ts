import { STAGE_HIGH_WATER_MARK } from "./buffers.js";
import { pipeline, Readable, type Duplex, type Transform } from "node:stream";

/**
 * Read the first `n` bytes of a stream (fewer if it is shorter) and hand back a stream that
 * still yields every byte, those first ones included.
 */
export async function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = pieces(stream);
  const seen: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    seen.push(next.value);
    length += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* seen;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  // Its errors reach the replay through the iterator; one after the replay is gone has no reader.
  stream.on("error", ignore);
  const replayed = Readable.from(replay(), { objectMode: false, highWaterMark: STAGE_HIGH_WATER_MARK });
  replayed.on("error", ignore);
  replayed.once("close", () => {
    if (!stream.destroyed) stream.destroy();
  });
  return { head: Buffer.concat(seen).subarray(0, n), stream: replayed };
}

/**
 * Each piece of a byte stream as it was pushed, in order. Iterating a Readable itself reads all
 * that is buffered at once, which copies the waiting pieces into one new buffer whenever more
 * than one waits (a copy of most of a disk, measured: memmove was the importer's second cost after
 * sha256). Ends as that iteration does: the stream's error, a close before the end
 * (premature), and a reader that leaves early destroys the stream.
 */
export async function* pieces(stream: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onData = (piece: Buffer) => {
    queue.push(piece);
    if (queue.length >= PIECES_AHEAD) stream.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (error: unknown) => {
    failure ??= { error };
    notify();
  };
  const onClose = () => {
    if (!ended) failure ??= { error: Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" }) };
    notify();
  };
  stream.on("data", onData);
  stream.once("end", onEnd);
  stream.on("error", onError);
  stream.once("close", onClose);
  try {
    for (;;) {
      const piece = queue.shift();
      if (piece !== undefined) {
        if (queue.length === 0 && stream.isPaused()) stream.resume();
        yield piece;
        continue;
      }
      if (failure) throw failure.error;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stream.off("data", onData);
    stream.off("end", onEnd);
    stream.off("close", onClose);
    // Errors after the reader left have no one to tell; the listener stays so none is unhandled.
    if (!ended && !stream.destroyed) stream.destroy();
  }
}

/** Pieces read ahead of the reader before the stream is paused. */
const PIECES_AHEAD = 4;

/** Chain stages; the returned stream is the last one and fails with the first error of any. */
export function chain(source: Readable, stages: (Transform | Duplex)[]): Readable {
  if (stages.length === 0) return source;
  const last = stages[stages.length - 1]!;
  // The pipeline reports the first error; a stage failing again after it was torn down has no reader.
  for (const stage of stages) stage.on("error", ignore);
  pipeline([source, ...stages] as unknown as [Readable, ...Duplex[]], (err) => {
    if (err && !last.destroyed) last.destroy(err);
  });
  return last;
}

/** For streams whose errors are observed elsewhere (a pipeline, an iterator) and may come late. */
export function ignore(): void {}
