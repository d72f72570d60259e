/** The disk formats the virtualization platform knows (`status.format` of an image). */
export const DISK_FORMATS = ["qcow2", "raw", "vmdk", "vdi", "iso"] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

export function isDiskFormat(value: string): value is DiskFormat {
  return (DISK_FORMATS as readonly string[]).includes(value);
}

/** Format-specific facts (qcow2 version, backing file, encryption; vmdk create type; …). */
export type DiskDetails = Record<string, string | number | boolean | null | string[]>;

/** What a disk file's header says about the disk. */
export interface DiskHeader {
  format: DiskFormat;
  /** Size of the disk as the guest sees it, in bytes. */
  virtualSize: number;
  /** ISO 9660 / UDF media: attached as a CD-ROM, not a disk. */
  cdrom: boolean;
  details: DiskDetails;
}

/**
 * A format parser: `head` is the first bytes of the disk file (up to the header budget, or the
 * whole file when smaller), `fileSize` its full size. Returns null when the magic does not
 * match; throws InspectionError when it matches but the header is invalid.
 */
export type FormatParser = (head: Buffer, fileSize: number) => DiskHeader | null;
