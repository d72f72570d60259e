/**
 * Page-aligned 1 MiB blocks for O_DIRECT writes.
 *
 * Why direct writes: on these VMs a buffered write + fsync of 1 GiB runs anywhere between 250
 * and 800 MB/s (the guest's page-cache writeback is the bottleneck, and it is erratic), while
 * O_DIRECT writes of the same bytes run 1.1–1.7 GB/s every time (`dd`, and bench/). A push is
 * fsync'd before it is acknowledged anyway, so going through the page cache buys nothing.
 *
 * Why a WebAssembly.Memory: O_DIRECT needs the memory, the file offset and the length aligned
 * to the device's block size. Node has no aligned allocator (a 1 MiB Buffer sits 16 bytes into
 * an mmap'd page), but V8 maps a WebAssembly.Memory at a page boundary, so every 1 MiB slice of
 * one is page-aligned. The memory can never grow (growing would detach every Buffer viewing
 * it), so the arena is a fixed number of blocks; when they are all in use, blocks come from the
 * ordinary heap and their writes simply go through the page cache. Pages of the arena are
 * committed only when first touched, and the most recently freed block is reused first, so
 * resident memory follows the blocks actually in use, as with an ordinary pool.
 */

/** Offsets and lengths of direct writes are multiples of this (the largest common page size). */
export const DIRECT_ALIGNMENT = 4096;

const WASM_PAGE = 64 * 1024;

export class AlignedBlockPool {
  /** The arena; undefined if it could not be reserved (then every block is a heap block). */
  private readonly arena: ArrayBuffer | undefined;
  private readonly free: number[] = [];
  private readonly heapIdle: Buffer[] = [];

  constructor(
    readonly blockSize: number,
    readonly arenaBlocks: number,
    /** Heap blocks kept for reuse once the arena is exhausted. */
    private readonly maxHeapIdle = 4,
  ) {
    if (blockSize % WASM_PAGE !== 0) throw new Error(`block size must be a multiple of ${WASM_PAGE}`);
    const pages = (blockSize / WASM_PAGE) * arenaBlocks;
    try {
      this.arena = new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer;
    } catch {
      // V8 reserves guard pages around wasm memory; under a tight address-space limit (ulimit -v)
      // that fails. Uploads then go through the page cache, as before O_DIRECT.
      this.arena = undefined;
      return;
    }
    // Highest index first, so pop() hands out block 0, then 1, …: few distinct pages get touched.
    for (let i = arenaBlocks - 1; i >= 0; i--) this.free.push(i);
  }

  take(): Buffer {
    const index = this.free.pop();
    if (index !== undefined && this.arena) return Buffer.from(this.arena, index * this.blockSize, this.blockSize);
    return this.heapIdle.pop() ?? Buffer.allocUnsafe(this.blockSize);
  }

  give(block: Buffer): void {
    if (block.length !== this.blockSize) return;
    if (this.isAligned(block)) {
      const index = block.byteOffset / this.blockSize;
      // A block given twice would later be filled by two requests at once.
      if (!this.free.includes(index)) this.free.push(index);
      return;
    }
    if (this.heapIdle.length < this.maxHeapIdle && !this.heapIdle.includes(block)) this.heapIdle.push(block);
  }

  /** Whether `block` (or a slice of one) lies in the arena, i.e. may be written with O_DIRECT. */
  isAligned(block: Buffer): boolean {
    return this.arena !== undefined && block.buffer === this.arena && block.byteOffset % DIRECT_ALIGNMENT === 0;
  }

  get freeArenaBlocks(): number {
    return this.free.length;
  }
}

/**
 * Upload blocks: 32 MiB of arena covers 8 uploads at once with their blocks in flight; more
 * concurrent uploads still work, through the page cache.
 */
export const UPLOAD_BLOCKS = new AlignedBlockPool(1024 * 1024, 32);
