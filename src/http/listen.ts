import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseListen } from "../config/config.js";

/** Listen on HOST:PORT; rejects (EADDRINUSE, EACCES) instead of emitting. */
export async function listenOn(server: Server, listen: string): Promise<void> {
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** The URL a listening server answers on (the real port when it listened on :0). */
export function urlOf(server: Server, scheme: "http" | "https"): string {
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/** Stop accepting, drop idle and open connections, resolve once closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
