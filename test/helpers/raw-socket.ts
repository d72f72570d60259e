import { readdirSync } from "node:fs";
import net from "node:net";

/** A TCP connection to a test server where every byte is written by hand (hostile clients). */
export class RawConnection {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  /** Resolves when the server closed (or reset) the connection. */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => (this.received = Buffer.concat([this.received, d])));
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => undefined);
  }

  static open(base: string): Promise<RawConnection> {
    const u = new URL(base);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(u.port), u.hostname, () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  /** The first complete response: status, lower-cased headers and body (by Content-Length). */
  async response(timeoutMs = 5000): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.received);
      if (parsed) return parsed;
      if (Date.now() > deadline) throw new Error(`no complete response within ${timeoutMs} ms: ${JSON.stringify(this.received.toString("latin1").slice(0, 200))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Wait until the server closes the connection; false if it is still open after `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseResponse(data: Buffer): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const length = Number(headers["content-length"] ?? 0);
  if (data.length < end + 4 + length) return undefined;
  return { status: Number(statusLine!.split(" ")[1]), headers, body: data.subarray(end + 4, end + 4 + length).toString("utf8") };
}

/** Open file descriptors of this process (the in-process test server's included). */
export function openDescriptors(): number {
  return readdirSync("/proc/self/fd").length;
}
