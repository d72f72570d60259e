import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  path: string;
  contentRange?: string;
  status?: number;
  cut: boolean;
}

export interface CuttingProxy {
  url: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a registry that drops the connection in the middle of chosen
 * requests' bodies (after forwarding half of them), as a flaky network between importer and
 * registry does.
 */
export async function startCuttingProxy(target: string, shouldCut: (req: ProxiedRequest, index: number) => boolean): Promise<CuttingProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const server = http.createServer((req, res) => {
    const record: ProxiedRequest = { method: req.method!, path: req.url!, contentRange: req.headers["content-range"] as string | undefined, cut: false };
    const index = requests.push(record) - 1;
    const cut = shouldCut(record, index);
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      record.status = answer.statusCode;
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    forward.on("error", () => res.destroy());
    if (!cut) {
      req.pipe(forward);
      return;
    }
    record.cut = true;
    const length = Number(req.headers["content-length"] ?? 0);
    let passed = 0;
    req.on("data", (chunk: Buffer) => {
      if (passed + chunk.length >= length / 2) {
        forward.destroy();
        req.socket.destroy();
        return;
      }
      passed += chunk.length;
      forward.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** After the cut PATCH: the session asked where it stands (GET, 204), then the cut bytes sent again from there. */
export function assertResentFromSession(proxy: CuttingProxy): void {
  const cutAt = proxy.requests.findIndex((r) => r.cut);
  assert.ok(cutAt > 0, "a PATCH was cut");
  const after = proxy.requests.slice(cutAt + 1);
  assert.equal(after[0]!.method, "GET", "the importer asked the session where it stands");
  assert.equal(after[0]!.status, 204);
  assert.equal(after[1]!.method, "PATCH");
  assert.equal(after[1]!.contentRange, proxy.requests[cutAt]!.contentRange, "the cut bytes were sent again from where the session stood");
}
