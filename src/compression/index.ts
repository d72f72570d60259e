export { COMPRESSION_MAGIC_BYTES, detectCompression, type Compression } from "./detect.js";
export { decoder, type DecoderOptions } from "./decoders.js";
