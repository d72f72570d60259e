import { createReadStream, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";

/** A static file server; Range honoured (the importer reads the xz index with ranged GETs first). */
export function serveDirectory(dir: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const file = path.join(dir, path.basename(req.url ?? ""));
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return void res.writeHead(404).end();
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    const headers: http.OutgoingHttpHeaders = { "content-length": end - start + 1, "accept-ranges": "bytes", "content-type": "application/octet-stream" };
    if (m) headers["content-range"] = `bytes ${start}-${end}/${size}`;
    res.writeHead(m ? 206 : 200, headers);
    createReadStream(file, { start, end, highWaterMark: 1 << 20 }).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

