import { pipeline, Readable, type Duplex, type Transform } from "node:stream";

/**
 * Read the first `n` bytes of a stream (fewer if it is shorter) and hand back a stream that
 * still yields every byte, those first ones included.
 */
export async function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
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
  const replayed = Readable.from(replay(), { objectMode: false, highWaterMark: 1 << 20 });
  replayed.on("error", ignore);
  replayed.once("close", () => {
    if (!stream.destroyed) stream.destroy();
  });
  return { head: Buffer.concat(seen).subarray(0, n), stream: replayed };
}

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
