/**
 * Who owns a repository on the virtualization platform (see DVCR.md): `cvi/<name>` is a
 * ClusterVirtualImage, `vi/<ns>/<name>` a VirtualImage, `vd/<ns>/<name>` a VirtualDisk's
 * provisioning cache; any other path is a plain image.
 */
export const OWNER_KINDS = ["ClusterVirtualImage", "VirtualImage", "VirtualDisk", "Image"] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];

export interface Owner {
  kind: OwnerKind;
  name: string;
  namespace: string | null;
}

const OWNED: { prefix: string; kind: OwnerKind; namespaced: boolean }[] = [
  { prefix: "cvi", kind: "ClusterVirtualImage", namespaced: false },
  { prefix: "vi", kind: "VirtualImage", namespaced: true },
  { prefix: "vd", kind: "VirtualDisk", namespaced: true },
];

export function isOwnerKind(value: string): value is OwnerKind {
  return (OWNER_KINDS as readonly string[]).includes(value);
}

export function ownerOf(repository: string): Owner {
  const parts = repository.split("/");
  for (const o of OWNED) {
    if (parts[0] === o.prefix && parts.length === (o.namespaced ? 3 : 2)) {
      return { kind: o.kind, name: parts[parts.length - 1]!, namespace: o.namespaced ? parts[1]! : null };
    }
  }
  return { kind: "Image", name: repository, namespace: null };
}

export interface OwnerFilter {
  kind?: OwnerKind;
  namespace?: string;
}

export function ownerMatches(owner: Owner, filter: OwnerFilter): boolean {
  return (filter.kind === undefined || owner.kind === filter.kind) && (filter.namespace === undefined || owner.namespace === filter.namespace);
}

/**
 * The repository-name prefix every match of `filter` has, so that a listing scans only that
 * range of repositories (`ownerMatches` still decides: `cvi/a/b` starts with `cvi/` but is a
 * plain image). Undefined when the filter does not narrow the names.
 */
export function ownerPrefix(filter: OwnerFilter): string | undefined {
  const owned = OWNED.find((o) => o.kind === filter.kind);
  if (!owned) return undefined;
  return owned.namespaced && filter.namespace !== undefined ? `${owned.prefix}/${filter.namespace}/` : `${owned.prefix}/`;
}
