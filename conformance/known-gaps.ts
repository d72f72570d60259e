/**
 * Checks the CNCF reference registry 2.8 (Debian package docker-registry) is known to fail,
 * each a real gap of that registry measured against the spec. The CI test runs the suite against
 * it and requires exactly this set to fail, which proves the checks themselves are right.
 */
export const REFERENCE_REGISTRY_GAPS: Record<string, string> = {
  "push: one-request POST ?digest= with body returns 201": "2.8 ignores the body and opens a session (202)",
  "push: out-of-order chunk returns 416": "2.8 accepts an out-of-order chunk with 202",
  "push: repeated chunk returns 416": "2.8 accepts a chunk that restarts at offset 0 (202)",
  "push: automatic mount without from returns 201": "2.8 never mounts without from",
  "push: artifact manifest with subject returns OCI-Subject": "2.8 predates v1.1: no OCI-Subject header",
  "pull: GET blob with an unsatisfiable Range returns 416": "2.8 sends 416 with the blob's Content-Length but a shorter text body (the response is cut)",
  "push: PUT to an unknown upload session returns 404 BLOB_UPLOAD_UNKNOWN": "2.8 wants its _state token and answers BLOB_UPLOAD_INVALID",
  "push: PUT manifest with an invalid tag returns 400": "2.8's router does not match an invalid tag: plain-text 404, no error body",
  "discovery: tags list is sorted lexically": "2.8 lists tags in directory order",
  "discovery: tags list n limits the page": "2.8 ignores n",
  "discovery: tags list Link header points at the next page": "2.8 sends no Link header",
  "discovery: tags list last continues after the given tag": "2.8 ignores last",
  "discovery: referrers returns an OCI image index": "2.8 has no referrers API (404)",
  "discovery: referrers lists the referrers with their artifactType": "2.8 has no referrers API (404)",
  "discovery: referrers artifactType filter sets OCI-Filters-Applied": "2.8 has no referrers API (404)",
  "discovery: referrers of a digest without referrers is an empty index": "2.8 has no referrers API (404)",
  "management: DELETE tag returns 202": "2.8 answers 400 DIGEST_INVALID for DELETE by tag",
  "management: deleted tag is gone and the manifest remains by digest": "follows from DELETE by tag being refused",
};
