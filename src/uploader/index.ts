/** DVCR's uploader: one HTTP upload of a disk → the importer's stream source → pushed image. */
export { startUploader, type RunningUploader, type UploaderOptions, type UploaderOutcome } from "./uploader.js";
export { UPLOAD_PATH } from "./upload-server.js";
