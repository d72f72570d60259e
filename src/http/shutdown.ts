import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";

/** Handlers cut at the deadline get this long to give their blocks back and cut their files. */
const CUT_SETTLE_MS = 5_000;

export interface DrainResult {
  /** Requests still running when the grace period ended (their connections were cut). */
  cut: number;
}

/**
 * Graceful shutdown of an HTTP server, as Go's http.Server.Shutdown with a deadline: stop
 * accepting, close idle keep-alive connections, let requests in flight finish, and close each
 * connection after its response. When the grace period ends the remaining connections are cut;
 * an upload cut that way rolls its chunk back (storage/upload-files.ts), so its session stays
 * resumable from the last acknowledged byte. `drain` resolves once every handler has settled,
 * so the caller may then close the metadata database under nobody's feet.
 */
export class RequestTracker {
  /** Requests whose handler has not settled or whose response is not closed yet. */
  private readonly inFlight = new Set<ServerResponse>();
  /** Set once a drain began: the server whose idle connections go as their responses end. */
  private draining: Server | undefined;
  private settled: (() => void) | undefined;
  private cutNow: (() => void) | undefined;

  /** Wrap the application's listener so every request is counted until it is really over. */
  listener(handle: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>): RequestListener {
    return (req, res) => {
      this.inFlight.add(res);
      if (this.draining) res.shouldKeepAlive = false;
      // Over when the handler has settled (an upload has cut back its file) and the response is closed.
      let open = 2;
      const done = () => {
        if (--open > 0) return;
        this.inFlight.delete(res);
        if (this.draining) this.onRequestDone(this.draining);
      };
      res.once("close", done);
      handle(req, res).then(done, done);
    };
  }

  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Stop taking connections, let requests finish for up to `graceMs`, then cut the rest. */
  async drain(server: Server, graceMs: number): Promise<DrainResult> {
    this.draining = server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Responses not started yet say `Connection: close`; idle keep-alive connections go now.
    for (const res of this.inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
    server.closeIdleConnections();
    let cut = 0;
    if (this.inFlight.size > 0) {
      const finished = await this.settle(graceMs);
      if (!finished) {
        cut = this.inFlight.size;
        server.closeAllConnections();
        await this.settle(CUT_SETTLE_MS);
      }
    }
    server.closeAllConnections();
    await closed;
    return { cut };
  }

  /** End the grace period at once (a second SIGTERM). */
  hurry(): void {
    this.cutNow?.();
  }

  private onRequestDone(server: Server): void {
    // A keep-alive connection that finished its response would otherwise wait for another request.
    server.closeIdleConnections();
    if (this.inFlight.size === 0) this.settled?.();
  }

  private settle(ms: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (finished: boolean) => {
        clearTimeout(timer);
        this.settled = this.cutNow = undefined;
        resolve(finished);
      };
      const timer = setTimeout(() => finish(false), ms);
      this.settled = () => finish(true);
      this.cutNow = () => finish(false);
    });
  }
}
