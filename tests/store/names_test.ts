import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  archiveFileName,
  compressionOfName,
  isDayFolder,
  isEncryptedName,
  isPartialName,
  parseArchiveName,
  partialName,
  sidecarName,
  sidecarText,
  stampOf,
} from "../../lib/store/names.ts";

Deno.test("stampOf gives the local date and time in the zone when the UTC date differs", () => {
  const instant = Date.UTC(2027, 0, 1, 23, 30, 5);
  deepStrictEqual(stampOf(instant, "Europe/Berlin"), { day: "2027-01-02", time: "00-30-05" });
  deepStrictEqual(stampOf(instant, "America/Santiago"), { day: "2027-01-01", time: "20-30-05" });
  deepStrictEqual(stampOf(instant, "UTC"), { day: "2027-01-01", time: "23-30-05" });
});

Deno.test("stampOf spells midnight as 00, not 24", () => {
  deepStrictEqual(stampOf(Date.UTC(2027, 5, 1, 0, 0, 0), "UTC"), {
    day: "2027-06-01",
    time: "00-00-00",
  });
});

Deno.test("archive names carry a -N suffix after the first of a second", () => {
  strictEqual(archiveFileName("01-00-00", 0, "gzip"), "01-00-00.tar.gz");
  strictEqual(archiveFileName("01-00-00", 2, "zstd"), "01-00-00-2.tar.zst");
  strictEqual(archiveFileName("01-00-00", 1, "zstd", true), "01-00-00-1.tar.zst.age");
  strictEqual(compressionOfName("01-00-00-1.tar.zst.age"), "zstd");
  strictEqual(compressionOfName("01-00-00.tar.gz.age"), "gzip");
  strictEqual(isEncryptedName("01-00-00.tar.gz.age"), true);
  strictEqual(isEncryptedName("01-00-00.tar.gz"), false);
  strictEqual(partialName("01-00-00.tar.gz"), ".01-00-00.tar.gz.partial");
  strictEqual(sidecarName("01-00-00.tar.gz"), "01-00-00.tar.gz.sha256");
  strictEqual(sidecarText("ab", "01-00-00.tar.gz"), "ab  01-00-00.tar.gz\n");
});

Deno.test("parseArchiveName reads back only names backupd writes", () => {
  deepStrictEqual(parseArchiveName("2027-01-02", "01-00-00-1.tar.gz"), {
    day: "2027-01-02",
    time: "01-00-00",
    seq: 1,
    compression: "gzip",
    encrypted: false,
    path: "2027-01-02/01-00-00-1.tar.gz",
  });
  deepStrictEqual(parseArchiveName("2027-01-02", "01-00-00.tar.zst.age"), {
    day: "2027-01-02",
    time: "01-00-00",
    seq: 0,
    compression: "zstd",
    encrypted: true,
    path: "2027-01-02/01-00-00.tar.zst.age",
  });
  for (
    const foreign of [
      "01-00-00.tar",
      "notes.txt",
      "01-00-00.tar.gz.sha256",
      "01-00-00.tar.gz.age.sha256",
      "01-00-00.tar.age",
      "01-00-00-0.tar.gz",
      ".01-00-00.tar.gz.partial",
    ]
  ) {
    strictEqual(parseArchiveName("2027-01-02", foreign), undefined, foreign);
  }
  strictEqual(parseArchiveName("photos", "01-00-00.tar.gz"), undefined);
  strictEqual(isDayFolder("2027-01-02"), true);
  strictEqual(isDayFolder("2027-1-2"), false);
});

Deno.test("isPartialName matches archive and sidecar partials only", () => {
  strictEqual(isPartialName(".01-00-00.tar.gz.partial"), true);
  strictEqual(isPartialName(".01-00-00-3.tar.zst.partial"), true);
  strictEqual(isPartialName(".01-00-00.tar.gz.sha256.partial"), true);
  strictEqual(isPartialName(".01-00-00.tar.gz.age.partial"), true);
  strictEqual(isPartialName(".01-00-00.tar.gz.age.sha256.partial"), true);
  strictEqual(isPartialName(".mine.partial"), false);
  strictEqual(isPartialName("01-00-00.tar.gz"), false);
});
