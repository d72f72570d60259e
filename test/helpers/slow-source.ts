import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP source that sends `size` bytes of `fill` at about `bytesPerSecond` (with
 * Content-Length), so a provisioning is slow enough to be watched, or killed mid-way.
 */
export async function startSlowSource(size: number, bytesPerSecond: number, fill = 0x5a): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Length": String(size), "Content-Type": "application/octet-stream" });
    if (req.method === "HEAD") return void res.end();
    const tick = 50;
    const perTick = Math.max(1, Math.floor((bytesPerSecond * tick) / 1000));
    const chunk = Buffer.alloc(Math.min(perTick, size), fill);
    let sent = 0;
    const timer = setInterval(() => {
      const n = Math.min(chunk.length, size - sent);
      res.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      sent += n;
      if (sent >= size) {
        clearInterval(timer);
        res.end();
      }
    }, tick);
    res.on("close", () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/disk.img`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
