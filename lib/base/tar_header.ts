// A tar entry's header as backupd writes it and modern-tar's decoder reads it: the same
// shape as modern-tar's own type, declared here so that the write and read paths share it.

/** The kind of a tar entry. */
export type TarEntryType =
  | "file"
  | "link"
  | "symlink"
  | "character-device"
  | "block-device"
  | "directory"
  | "fifo"
  | "pax-header"
  | "pax-global-header"
  | "gnu-long-name"
  | "gnu-long-link-name";

/** A tar entry's header. */
export interface TarHeader {
  /** The entry's name (path). */
  name: string;
  /** Bytes of content: 0 for folders and links. */
  size: number;
  /** Modification time. */
  mtime?: Date;
  /** Permission bits (and setuid, setgid, sticky). */
  mode?: number;
  /** The kind of entry. @default {"file"} */
  type?: TarEntryType;
  /** Owner's user id. */
  uid?: number;
  /** Owner's group id. */
  gid?: number;
  /** Owner's user name. */
  uname?: string;
  /** Owner's group name. */
  gname?: string;
  /** A link's target. */
  linkname?: string;
  /** pax extended records. */
  pax?: Record<string, string>;
}
