import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback HTTP server that reads every request body and throws it away: pushing the blob here
 * measures what the benchmark's client and the loopback interface can carry, the ceiling any
 * registry's push is read against. Run as its own process, like the registries.
 */
const server = http.createServer((req, res) => {
  req.on("data", () => undefined);
  req.once("end", () => {
    res.statusCode = 201;
    res.end();
  });
});
server.requestTimeout = 0;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
