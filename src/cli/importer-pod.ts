import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ImportError, ImportProgress, ImportResult } from "../importer/index.js";
import { importAverageSpeed, importCurrentSpeed, importerMetricsRegistry, importProgress } from "../metrics/importer.js";

/**
 * What DVCR's controller reads from an importer or uploader pod: the progress gauges it scrapes
 * and the termination message it reads from the pod's status once the process has ended.
 */

/** Serve the importer gauges; resolves with the bound server. `name` is the command, for the log line. */
export async function serveMetrics(listen: string, name: string): Promise<http.Server> {
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon) || "0.0.0.0";
  const port = Number(listen.slice(colon + 1));
  const server = http.createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    importerMetricsRegistry.metrics().then(
      (text) => res.writeHead(200, { "content-type": importerMetricsRegistry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  process.stderr.write(`${name} metrics on http://${address.address}:${address.port}/metrics\n`);
  return server;
}

export function stopMetrics(server: http.Server | undefined): void {
  server?.close();
  server?.closeAllConnections();
}

/** The gauges of one owner, fed by the importer's progress reports. */
export function progressGauges(ownerUid: string) {
  const owner = { ownerUID: ownerUid };
  return {
    // Held below 100 until the image is pushed: the controller reads 100 as done.
    update(p: ImportProgress): void {
      importProgress.set(owner, Math.min(99.9, p.percent ?? 0));
      importCurrentSpeed.set(owner, p.currentSpeed);
      importAverageSpeed.set(owner, p.averageSpeed);
    },
    done(result: ImportResult): void {
      importProgress.set(owner, 100);
      importAverageSpeed.set(owner, result.averageSpeed);
    },
  };
}

/** DVCR's termination message: what the controller reads from the pod's status. */
export function writeTerminationMessage(file: string, report: Record<string, unknown>, name: string): void {
  try {
    writeFileSync(file, JSON.stringify(report));
  } catch (err) {
    process.stderr.write(`${name}: cannot write the termination message to ${file}: ${(err as Error).message}\n`);
  }
}

export function terminationReport(result: ImportResult): Record<string, unknown> {
  return {
    "source-image-size": result.sourceImageSize,
    "source-image-virtual-size": result.sourceImageVirtualSize,
    "source-image-format": result.sourceImageFormat,
    duration: result.durationMs / 1000,
    "average-speed": result.averageSpeed,
  };
}

export function failureReport(failure: ImportError): Record<string, unknown> {
  return { "error-message": failure.message, "error-kind": failure.kind, retryable: failure.retryable };
}
