/**
 * The checks the CNCF reference registry 2.8 (Debian package docker-registry 2.8.2) fails, each
 * for a real gap of that registry measured against the Distribution spec v1.1 (see README.md).
 * test/e2e/conformance-reference.test.ts runs the suite against it and requires exactly this set to
 * fail, which is how the suite's own checks are proven right. Keys are `<workflow>: <check>`,
 * exactly as printed.
 */
export const REFERENCE_REGISTRY_GAPS: Record<string, string> = {
  "pull: GET manifest with a malformed digest returns 400 or 404":
    "GET /manifests/sha256:totallywrong answers 500 UNKNOWN (it looks the reference up as a tag path); the reference is neither a tag nor a digest, a client error",
  "push: GET upload status at the POST Location after a chunk returns 204 with Range":
    "the POST's Location carries a _state token that goes stale after a PATCH: 404 BLOB_UPLOAD_INVALID, though the spec says the Location of any preceding POST or PATCH gets 204",
  "push: out-of-order chunk returns 416":
    "2.8 ignores Content-Range and appends a chunk that skips bytes (202), where the spec requires 416",
  "push: repeated chunk returns 416":
    "2.8 ignores Content-Range and appends the same chunk a second time (202), corrupting the upload, where the spec requires 416",
  "push: automatic mount without from returns 201":
    "2.8 never mounts without from (it opens an upload session, 202); spec-legal (MAY), checked as an optional feature",
  "push: artifact manifest with subject returns OCI-Subject":
    "2.8 predates v1.1: it stores the manifest but ignores subject and sends no OCI-Subject header",
  "discovery: tags list is sorted lexically": "2.8 lists tags in storage directory order; the spec requires lexical order",
  "discovery: tags list n limits the page": "2.8 ignores n and returns every tag",
  "discovery: tags list n=0 returns an empty list without Link": "2.8 ignores n and returns every tag",
  "discovery: tags list last continues after the given tag": "2.8 ignores last (and n) and returns every tag",
  "discovery: referrers returns an OCI image index": "2.8 has no referrers API (404 page not found)",
  "discovery: referrers lists the referrers with their artifactType": "2.8 has no referrers API (404 page not found)",
  "discovery: referrers descriptors carry the referrers' annotations": "2.8 has no referrers API (404 page not found)",
  "discovery: referrers artifactType filter sets OCI-Filters-Applied": "2.8 has no referrers API (404 page not found)",
  "discovery: referrers of a digest without referrers is an empty index": "2.8 has no referrers API (404 page not found)",
  "discovery: referrers of a subject that was never pushed lists its referrer": "2.8 has no referrers API (404 page not found)",
  "discovery: referrers with a malformed digest returns 400": "2.8 has no referrers API (404 page not found)",
  "management: DELETE tag returns 202":
    "2.8 cannot delete a tag: 400 DIGEST_INVALID (not even the UNSUPPORTED/405 a registry with tag deletion disabled should send)",
  "management: deleted tag is gone and the manifest remains by digest": "follows from the refused DELETE: the tag still resolves (200)",
};
