/**
 * Buffering of the import pipeline. A disk passes through about ten stages (source, checksums,
 * progress, decoder, detector, tar, digest, upload); each may hold its high-water mark, and the
 * pieces it read wait for a GC as external memory. 256 KiB pieces and 256 KiB marks keep that
 * to a few MiB; measured, the upload's two chunks are what memory is spent on.
 */
export const PIECE_BYTES = 256 * 1024;
export const STAGE_HIGH_WATER_MARK = 256 * 1024;
