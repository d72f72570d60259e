import { apiVersionOf, type ResourceDefinition } from "./resource.js";

/**
 * The discovery documents kubectl reads before anything else: which groups exist, which
 * resources a group version serves (kind, scope, verbs, short names), and the server version
 * (kubectl's dispatcher picks its kubectl.1.NN from it).
 */
export const SERVER_VERSION = {
  major: "1",
  minor: "30",
  gitVersion: "v1.30.0+dvcr",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.22.0",
  compiler: "gc",
  platform: "linux/amd64",
};

function groupOf(definitions: ResourceDefinition[], group: string) {
  const versions = [...new Set(definitions.filter((d) => d.group === group).map((d) => d.version))].map((version) => ({
    groupVersion: `${group}/${version}`,
    version,
  }));
  return { name: group, versions, preferredVersion: versions[0] };
}

export function apiGroupList(definitions: ResourceDefinition[]) {
  const groups = [...new Set(definitions.map((d) => d.group))];
  return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map((g) => groupOf(definitions, g)) };
}

export function apiGroup(definitions: ResourceDefinition[], group: string) {
  if (!definitions.some((d) => d.group === group)) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupOf(definitions, group) };
}

export function apiResourceList(definitions: ResourceDefinition[], groupVersion: string) {
  const served = definitions.filter((d) => apiVersionOf(d) === groupVersion);
  if (served.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion,
    resources: served.flatMap((d) => [
      {
        name: d.plural,
        singularName: d.singular,
        namespaced: false,
        kind: d.kind,
        verbs: ["delete", "get", "list", "patch", "create", "update", "watch"],
        shortNames: d.shortNames,
        categories: d.categories,
      },
      { name: `${d.plural}/status`, singularName: "", namespaced: false, kind: d.kind, verbs: ["get", "patch", "update"] },
    ]),
  };
}

/**
 * `kubectl apply` fetches the OpenAPI v2 document to validate on the client; an empty protobuf
 * document is a valid one that describes no types, so kubectl defers to the server's own
 * validation (fieldValidation) instead of refusing to apply.
 */
export const OPENAPI_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
