// The object store that off-site copies live in: S3, MinIO, Ceph RGW, B2, R2 through
// @aws-sdk/client-s3. Keys mirror DEST: `PREFIX/YYYY-MM-DD/HH-MM-SS.tar.gz[.age]`.

import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { byAge, parseArchivePath } from "../store/names.ts";
import type { StoredArchive } from "../store/archive_store.ts";
import type { S3Connection, S3Credentials, S3Target } from "./s3_url.ts";
import type { ArchiveStore } from "../store/archive_store.ts";
import { readSecret } from "../base/secret.ts";
import type { WalObject, WalStore } from "../store/wal_store.ts";
import { WAL_FOLDER } from "../store/wal_names.ts";
import { PARTS_IN_FLIGHT, partSizeFor, remoteError } from "./s3_requests.ts";

/** What HeadObject says of an uploaded archive. */
export interface RemoteHead {
  /** Its size in bytes. */
  size: number;
  /** The sha256 backupd keeps in the object's metadata, if any. */
  sha256?: string;
  /** Its entity tag. */
  etag?: string;
}

/** Options of {@linkcode RemoteStore.upload}. */
export interface UploadOptions {
  /** The file's sha256, kept in the object's metadata. */
  sha256: string;
  /** Abandons the upload. */
  signal?: AbortSignal;
}

/** One bucket and prefix, reached through one client. */
export class RemoteStore implements ArchiveStore {
  readonly #client: S3Client;
  readonly #target: S3Target;

  /**
   * @example
   * ```ts ignore
   * const store = new RemoteStore(client, { bucket: "backups", prefix: "db" });
   * ```
   */
  /** A store over `client` at `target`'s bucket and prefix. */
  constructor(client: S3Client, target: S3Target) {
    this.#client = client;
    this.#target = target;
  }

  /** The object key of a path relative to the prefix. */
  key(path: string): string {
    return this.#target.prefix === "" ? path : `${this.#target.prefix}/${path}`;
  }

  /** `s3://bucket/key` of a path relative to the prefix, for messages. */
  url(path = ""): string {
    return `s3://${this.#target.bucket}/${this.key(path)}`;
  }

  /** Every object under the prefix: its path relative to the prefix, and its size. */
  async objects(): Promise<Map<string, number>> {
    const objects = new Map<string, number>();
    for await (const object of this.#listed("")) objects.set(object.path, object.size);
    return objects;
  }

  /** The objects under `folder/` of the prefix, with their sizes and times. */
  async *#listed(
    folder: string,
  ): AsyncGenerator<{ path: string; size: number; modifiedMs: number }> {
    const base = this.#target.prefix === "" ? "" : `${this.#target.prefix}/`;
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#target.bucket,
          Prefix: `${base}${folder}`,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      ).catch((err) => {
        throw remoteError("list", this.url(folder), err);
      });
      for (const object of page.Contents ?? []) {
        yield {
          path: (object.Key ?? "").slice(base.length),
          size: object.Size ?? 0,
          modifiedMs: object.LastModified?.getTime() ?? 0,
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** The bucket's `wal/` folder as a WAL store (README: Point-in-time recovery). */
  wal(): WalStore {
    const folder = `${WAL_FOLDER}/`;
    return {
      list: async () => {
        const files: WalObject[] = [];
        for await (const object of this.#listed(folder)) {
          const file = object.path.slice(folder.length);
          if (file !== "" && !file.includes("/")) {
            files.push({ file, size: object.size, storedMs: object.modifiedMs });
          }
        }
        return files;
      },
      read: async (file) => {
        const stream = await this.open(`${folder}${file}`);
        return stream === undefined
          ? undefined
          : new Uint8Array(await new Response(stream).arrayBuffer());
      },
      remove: (file) => this.remove(`${folder}${file}`),
      url: (file) => this.url(`${folder}${file ?? ""}`),
    };
  }

  /** Multipart uploads under the prefix that were started and never completed nor aborted. */
  async incompleteUploads(): Promise<{ path: string; uploadId: string }[]> {
    const base = this.#target.prefix === "" ? "" : `${this.#target.prefix}/`;
    const found: { path: string; uploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.#target.bucket,
          Prefix: base,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
        }),
      ).catch((err) => {
        throw remoteError("list the uploads in", this.url(), err);
      });
      for (const upload of page.Uploads ?? []) {
        if (upload.Key && upload.UploadId) {
          found.push({ path: upload.Key.slice(base.length), uploadId: upload.UploadId });
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return found;
  }

  /** Aborts a multipart upload, so the store drops its parts. */
  async abortUpload(path: string, uploadId: string): Promise<void> {
    await this.#client.send(
      new AbortMultipartUploadCommand({
        Bucket: this.#target.bucket,
        Key: this.key(path),
        UploadId: uploadId,
      }),
    ).catch((err) => {
      throw remoteError("abort the upload to", this.url(path), err);
    });
  }

  /** Archives under the prefix, oldest first; keys backupd did not write are not listed. */
  async list(): Promise<StoredArchive[]> {
    const archives: StoredArchive[] = [];
    for (const [path, size] of await this.objects()) {
      const parsed = parseArchivePath(path);
      if (parsed) archives.push({ ...parsed, size });
    }
    return archives.sort(byAge);
  }

  /**
   * Uploads a file as `path`, multipart when it is larger than one part, streamed from the
   * file with at most 4 parts ({@linkcode partSizeFor}) in memory. Returns the parts sent.
   */
  async upload(file: string, path: string, options: UploadOptions): Promise<number> {
    using handle = await Deno.open(file);
    const partBytes = partSizeFor((await handle.stat()).size);
    const abort = new AbortController();
    const onAbort = () => abort.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort);
    const upload = new Upload({
      client: this.#client,
      params: {
        Bucket: this.#target.bucket,
        Key: this.key(path),
        Body: handle.readable,
        Metadata: { sha256: options.sha256 },
      },
      partSize: partBytes,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
      abortController: abort,
    });
    let parts = 0;
    upload.on("httpUploadProgress", (progress) => {
      parts = Math.max(parts, progress.part ?? 1);
    });
    try {
      await upload.done();
    } catch (err) {
      throw remoteError("upload to", this.url(path), err);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    return parts;
  }

  /** Writes a small text object (a sidecar). */
  async putText(path: string, text: string, signal?: AbortSignal): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#target.bucket,
        Key: this.key(path),
        Body: text,
        ContentType: "text/plain",
      }),
      signal ? { abortSignal: signal } : {},
    ).catch((err) => {
      throw remoteError("upload to", this.url(path), err);
    });
  }

  /** What HeadObject says of `path`; `undefined` when there is no such object. */
  async head(path: string): Promise<RemoteHead | undefined> {
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#target.bucket, Key: this.key(path) }),
      );
      return {
        size: head.ContentLength ?? 0,
        ...(head.Metadata?.sha256 ? { sha256: head.Metadata.sha256 } : {}),
        ...(head.ETag ? { etag: head.ETag } : {}),
      };
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) {
        return undefined;
      }
      throw remoteError("look up", this.url(path), err);
    }
  }

  /** Streams an object's bytes; `undefined` when there is no such object. */
  async open(path: string): Promise<ReadableStream<Uint8Array> | undefined> {
    try {
      const object = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#target.bucket, Key: this.key(path) }),
      );
      return object.Body?.transformToWebStream() as ReadableStream<Uint8Array> | undefined;
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) {
        return undefined;
      }
      throw remoteError("download", this.url(path), err);
    }
  }

  /** An object's text; `undefined` when there is no such object. */
  async getText(path: string): Promise<string | undefined> {
    const stream = await this.open(path);
    return stream === undefined ? undefined : await new Response(stream).text();
  }

  /** Removes an object; one already gone counts as removed. */
  async remove(path: string): Promise<void> {
    await this.#client.send(
      new DeleteObjectCommand({ Bucket: this.#target.bucket, Key: this.key(path) }),
    ).catch((err) => {
      throw remoteError("remove", this.url(path), err);
    });
  }
}

/**
 * A client for the store, with the credentials from the environment (or, when there are
 * none, from the SDK's own chain: `~/.aws`, instance roles).
 *
 * @example
 * ```ts ignore
 * const store = await openRemote(settings.s3Connection, { bucket: "backups", prefix: "db" }, {
 *   credentials: settings.s3Credentials,
 * });
 * ```
 */
export async function openRemote(
  connection: S3Connection,
  target: S3Target,
  options: { credentials?: S3Credentials | undefined } = {},
): Promise<RemoteStore> {
  const given = options.credentials;
  const credentials = given
    ? {
      accessKeyId: await readSecret(given.accessKeyId),
      secretAccessKey: await readSecret(given.secretAccessKey),
      ...(given.sessionToken ? { sessionToken: await readSecret(given.sessionToken) } : {}),
    }
    : undefined;
  const client = new S3Client({
    region: connection.region,
    forcePathStyle: connection.pathStyle,
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    // Checksums only where S3 requires them: RGW and others reject the newer headers on a
    // streamed body, and the sha256 in the metadata is what backupd checks.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    maxAttempts: 3,
  });
  return new RemoteStore(client, target);
}
