/** Names DVCR gives a ClusterVirtualImage's artifacts. */
export const CVI_GROUP = "virtualization.deckhouse.io";
export const CVI_VERSION = "v1alpha2";
export const CVI_KIND = "ClusterVirtualImage";
/** Held on every CVI until its repository is removed (the controller's delete cleanup). */
export const CVI_FINALIZER = "virtualization.deckhouse.io/dvcr-cleanup";

/** `cvi/<name>`: where DVCR keeps a ClusterVirtualImage (tag `latest`). */
export function cviRepository(name: string): string {
  return `cvi/${name}`;
}

export const CVI_TAG = "latest";

/** Whether `repository` is where a ClusterVirtualImage is kept (`cvi/<name>`). */
export function isCviRepository(repository: string): boolean {
  return repository.startsWith("cvi/") && !repository.includes("/", 4);
}
