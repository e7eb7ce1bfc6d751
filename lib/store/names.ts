// Names of the files backupd writes under DEST: archives, sidecars and partial files.
// Pure functions of a time and a zone, so tests can drive any day in any zone.

/** Compression kinds and the file endings they give. */
export const EXTENSIONS = { gzip: ".tar.gz", zstd: ".tar.zst" } as const;

/** A compression kind of `--compression`. */
export type Compression = keyof typeof EXTENSIONS;

/** The ending age adds to an encrypted archive. */
export const AGE_EXTENSION = ".age";

/** Local date and time of an archive, as its name spells them. */
export interface Stamp {
  /** `YYYY-MM-DD`: the date folder. */
  day: string;
  /** `HH-MM-SS`: the start of the file name. */
  time: string;
}

/** An archive name read back. */
export interface ArchiveName extends Stamp {
  /** 0 for the first archive of a second, then 1, 2, ... from the `-N` suffix. */
  seq: number;
  /** Which compression the ending says. */
  compression: Compression;
  /** Whether the ending says age encrypted it (`.tar.gz.age`). */
  encrypted: boolean;
  /** The path relative to DEST, `YYYY-MM-DD/HH-MM-SS[-N].tar.gz[.age]`. */
  path: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * The local date and time of an instant in a zone, as archive names spell them.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(
 *   stampOf(Date.UTC(2027, 0, 2, 0, 30, 5), "Europe/Berlin"),
 *   { day: "2027-01-02", time: "01-30-05" },
 * );
 * ```
 */
export function stampOf(instantMs: number, timeZone: string): Stamp {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instantMs))) {
    parts[part.type] = part.value;
  }
  const year = (parts.year ?? "").padStart(4, "0");
  return {
    day: `${year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}-${parts.minute}-${parts.second}`,
  };
}

/**
 * An instant as ISO 8601 in a zone, with its offset: how `list --json` and `health` show
 * times, since archive names carry none.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(isoInZone(Date.UTC(2027, 0, 2, 0, 30, 5), "Europe/Berlin"), "2027-01-02T01:30:05+01:00");
 * assertEquals(isoInZone(Date.UTC(2027, 0, 2, 0, 30, 5), "UTC"), "2027-01-02T00:30:05+00:00");
 * assertEquals(isoInZone(Date.UTC(2027, 6, 2, 12), "America/Santiago"), "2027-07-02T08:00:00-04:00");
 * ```
 */
export function isoInZone(instantMs: number, timeZone: string): string {
  const { day, time } = stampOf(instantMs, timeZone);
  const local = Date.parse(`${day}T${time.replaceAll("-", ":")}Z`);
  const minutes = Math.round((local - Math.floor(instantMs / 1000) * 1000) / 60_000);
  const sign = minutes < 0 ? "-" : "+";
  const hh = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, "0");
  const mm = String(Math.abs(minutes) % 60).padStart(2, "0");
  return `${day}T${time.replaceAll("-", ":")}${sign}${hh}:${mm}`;
}

/**
 * The file name of an archive inside its date folder.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(archiveFileName("01-00-00", 0, "gzip"), "01-00-00.tar.gz");
 * assertEquals(archiveFileName("01-00-00", 2, "gzip"), "01-00-00-2.tar.gz");
 * assertEquals(archiveFileName("01-00-00", 0, "gzip", true), "01-00-00.tar.gz.age");
 * ```
 */
export function archiveFileName(
  time: string,
  seq: number,
  compression: Compression,
  encrypted = false,
): string {
  return `${time}${seq > 0 ? `-${seq}` : ""}${EXTENSIONS[compression]}${
    encrypted ? AGE_EXTENSION : ""
  }`;
}

/**
 * Whether an archive's name says age encrypted it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(isEncryptedName("2027-01-02/01-00-00.tar.gz.age"), true);
 * ```
 */
export function isEncryptedName(name: string): boolean {
  return name.endsWith(AGE_EXTENSION);
}

/**
 * The compression an archive's name says (its ending without `.age`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(compressionOfName("01-00-00.tar.zst.age"), "zstd");
 * ```
 */
export function compressionOfName(name: string): Compression {
  const plain = isEncryptedName(name) ? name.slice(0, -AGE_EXTENSION.length) : name;
  return plain.endsWith(EXTENSIONS.zstd) ? "zstd" : "gzip";
}

/**
 * The name an archive has while it is written.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(partialName("01-00-00.tar.gz"), ".01-00-00.tar.gz.partial");
 * ```
 */
export function partialName(fileName: string): string {
  return `.${fileName}.partial`;
}

/**
 * The name of an archive's checksum file.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(sidecarName("01-00-00.tar.gz"), "01-00-00.tar.gz.sha256");
 * ```
 */
export function sidecarName(fileName: string): string {
  return `${fileName}.sha256`;
}

/**
 * The content of a sidecar, in the format `sha256sum -c` reads.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(sidecarText("ab12", "01-00-00.tar.gz"), "ab12  01-00-00.tar.gz\n");
 * ```
 */
export function sidecarText(hex: string, fileName: string): string {
  return `${hex}  ${fileName}\n`;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const FILE = /^(\d{2})-(\d{2})-(\d{2})(?:-([1-9]\d*))?\.tar\.(gz|zst)(\.age)?$/;
const PARTIAL =
  /^\.\d{2}-\d{2}-\d{2}(?:-[1-9]\d*)?\.tar\.(?:gz|zst)(?:\.age)?(?:\.sha256)?\.partial$/;

/**
 * Whether a folder name under DEST is a date folder that backupd writes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(isDayFolder("2027-01-02"), true);
 * assertEquals(isDayFolder("photos"), false);
 * ```
 */
export function isDayFolder(name: string): boolean {
  return DAY.test(name);
}

/**
 * Whether a file name is a partial archive that backupd writes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(isPartialName(".01-00-00.tar.gz.partial"), true);
 * ```
 */
export function isPartialName(name: string): boolean {
  return PARTIAL.test(name);
}

/**
 * Reads an archive name back; `undefined` for any file backupd did not write.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseArchiveName("2027-01-02", "01-00-00-1.tar.gz"), {
 *   day: "2027-01-02",
 *   time: "01-00-00",
 *   seq: 1,
 *   compression: "gzip",
 *   encrypted: false,
 *   path: "2027-01-02/01-00-00-1.tar.gz",
 * });
 * assertEquals(parseArchiveName("2027-01-02", "notes.txt"), undefined);
 * ```
 */
export function parseArchiveName(day: string, fileName: string): ArchiveName | undefined {
  const file = FILE.exec(fileName);
  if (!DAY.test(day) || !file) return undefined;
  return {
    day,
    time: `${file[1]}-${file[2]}-${file[3]}`,
    seq: file[4] ? Number(file[4]) : 0,
    compression: file[5] === "zst" ? "zstd" : "gzip",
    encrypted: file[6] !== undefined,
    path: `${day}/${fileName}`,
  };
}

/**
 * Reads an archive's path `DAY/FILE` (as DEST and the bucket hold it) back; `undefined`
 * for any other path.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(parseArchivePath("2027-01-02/01-00-00.tar.zst")?.compression, "zstd");
 * assertEquals(parseArchivePath("db/2027-01-02/01-00-00.tar.zst"), undefined);
 * ```
 */
export function parseArchivePath(path: string): ArchiveName | undefined {
  const parts = path.split("/");
  return parts.length === 2 ? parseArchiveName(parts[0] as string, parts[1] as string) : undefined;
}

/**
 * Orders archives oldest first, as their names say: day, time, then the `-N` suffix.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * const later = parseArchiveName("2027-01-02", "01-00-00-1.tar.gz")!;
 * const earlier = parseArchiveName("2027-01-02", "01-00-00.tar.gz")!;
 * assertEquals([later, earlier].sort(byAge).map((a) => a.path), [earlier.path, later.path]);
 * ```
 */
export function byAge(a: ArchiveName, b: ArchiveName): number {
  if (a.day !== b.day) return a.day < b.day ? -1 : 1;
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * The instant a local date and time in a zone stand for; in a fold, the earlier one.
 *
 * @example
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * assertEquals(instantOf({ day: "2027-01-02", time: "01-30-05" }, "Europe/Berlin"), Date.UTC(2027, 0, 2, 0, 30, 5));
 * ```
 */
export function instantOf(stamp: Stamp, timeZone: string): number {
  const [y, mo, d] = stamp.day.split("-").map(Number);
  const [h, mi, s] = stamp.time.split("-").map(Number);
  const wall = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0);
  const offsetAt = (instant: number) => {
    const local = stampOf(instant, timeZone);
    const [ly, lmo, ld] = local.day.split("-").map(Number);
    const [lh, lmi, ls] = local.time.split("-").map(Number);
    return Date.UTC(ly ?? 0, (lmo ?? 1) - 1, ld ?? 1, lh ?? 0, lmi ?? 0, ls ?? 0) - instant;
  };
  // Two rounds settle on the offset in force; in a fold, try the earlier offset first.
  const first = wall - offsetAt(wall - 86_400_000);
  const second = wall - offsetAt(first);
  return offsetAt(first) === wall - first ? first : second;
}
