import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";

/**
 * Idle timeouts by phase of a request, on the socket's own inactivity timer (which counts time
 * without a byte moving, never a transfer's total):
 * - `body`: the client is sending a request body: `bodyIdleMs` (a stalled upload otherwise holds
 *   its socket and upload file forever);
 * - `work`: the body is in and the handler works (a GC or scrub over the API may take minutes
 *   without a byte on the wire): no timeout;
 * - `send`: the response is going out: `sendIdleMs` (a reader that stops reading pins the
 *   transfer's blocks).
 * After the response (`done`) Node's own keepAliveTimeout takes over the same timer.
 */
export interface IdleTimeouts {
  bodyIdleMs: number;
  sendIdleMs: number;
}

type Phase = "body" | "work" | "send" | "stream" | "done";

interface SocketState extends IdleTimeouts {
  phase: Phase;
}

const sockets = new WeakMap<Socket, SocketState>();

function expectsBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return length !== undefined ? length !== "0" : req.headers["transfer-encoding"] !== undefined;
}

/** Start a request's timers: call from the server's "request" event, before the app runs. */
export function watchRequest(req: IncomingMessage, res: ServerResponse, timeouts: IdleTimeouts): void {
  const socket = req.socket;
  const state: SocketState = { ...timeouts, phase: "work" };
  sockets.set(socket, state);
  res.once("finish", () => (state.phase = "done"));
  if (!expectsBody(req) || req.complete) return;
  state.phase = "body";
  socket.setTimeout(timeouts.bodyIdleMs);
  req.once("end", () => {
    if (sockets.get(socket) !== state || state.phase !== "body") return;
    state.phase = "work";
    socket.setTimeout(0);
  });
}

/** The response starts going out: from now on a client that reads nothing is timed out. */
export function responseSending(res: ServerResponse): void {
  const socket = res.socket;
  const state = socket ? sockets.get(socket) : undefined;
  if (!socket || !state || state.phase === "send" || state.phase === "stream" || res.writableFinished) return;
  state.phase = "send";
  socket.setTimeout(state.sendIdleMs);
}

/**
 * The response is a long-lived event stream (a Kubernetes watch): quiet for minutes by design,
 * so no send timeout; the stream bounds what it queues for a reader that stops reading.
 */
export function watchStream(res: ServerResponse): void {
  const socket = res.socket;
  const state = socket ? sockets.get(socket) : undefined;
  if (!socket || !state) return;
  state.phase = "stream";
  socket.setTimeout(0);
}

/**
 * What a timed-out socket gets: closed (whatever it was doing), with a log line when a request
 * was in flight. Idle kept-alive connections close silently (Node's keepAliveTimeout).
 */
export function closeTimedOutSockets(server: Server, logger: Logger): void {
  server.on("timeout", (socket: Socket) => {
    const state = sockets.get(socket);
    if (state && (state.phase === "body" || state.phase === "send")) {
      const ms = state.phase === "body" ? state.bodyIdleMs : state.sendIdleMs;
      logger.info({ client: socket.remoteAddress, phase: state.phase, idleMs: ms }, `client idle for ${ms} ms while ${state.phase === "body" ? "sending its request body" : "receiving the response"}: connection closed`);
    }
    socket.destroy();
  });
}
