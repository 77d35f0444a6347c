/** A pod's files: bytes kept as written, and the space limits a full filesystem reports. */
import { randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { FILE_LIMITS, newDisk, PodFileSystem } from "./files.ts";

const system = () => ({ "/etc/hostname": "box\n" });

describe("PodFileSystem", () => {
  it("keeps bytes as written, text as UTF-8, and appends in order", () => {
    const f = new PodFileSystem(system);
    const bin = randomBytes(10_000);
    expect(f.write("/tmp/a.bin", bin)).toBeUndefined();
    expect(f.read("/tmp/a.bin")!.equals(bin)).toBe(true);
    expect(f.write("/tmp/t", "café ☕\n")).toBeUndefined();
    expect(f.read("/tmp/t")!.toString("utf8")).toBe("café ☕\n");
    for (let i = 0; i < 1000; i++) f.write("/tmp/log", Buffer.from([i & 255]), true);
    expect([...f.read("/tmp/log")!]).toEqual(Array.from({ length: 1000 }, (_, i) => i & 255));
    // Appending to a system file starts from its contents.
    f.write("/etc/hostname", "more\n", true);
    expect(f.read("/etc/hostname")!.toString()).toBe("box\nmore\n");
  });

  it("a read is not changed by later writes", () => {
    const f = new PodFileSystem(system);
    f.write("/tmp/x", "one");
    const before = f.read("/tmp/x")!;
    f.write("/tmp/x", "two", true);
    expect(before.toString()).toBe("one");
    expect(f.read("/tmp/x")!.toString()).toBe("onetwo");
  });

  it("a file, a pod and a cluster's disk are bounded: past them, No space left on device and nothing changes", () => {
    const disk = newDisk(FILE_LIMITS.podBytes + 1024);
    const a = new PodFileSystem(system, disk);
    const b = new PodFileSystem(system, disk);
    expect(a.write("/tmp/big", Buffer.alloc(FILE_LIMITS.fileBytes + 1))).toBe("No space left on device");
    expect(a.read("/tmp/big")).toBeUndefined();
    expect(a.write("/tmp/1", Buffer.alloc(FILE_LIMITS.fileBytes))).toBeUndefined();
    expect(a.write("/tmp/2", Buffer.alloc(FILE_LIMITS.fileBytes))).toBeUndefined();
    expect(a.write("/tmp/3", "x")).toBe("No space left on device");
    expect(a.write("/tmp/1", "x", true)).toBe("No space left on device");
    expect(a.read("/tmp/1")!.length).toBe(FILE_LIMITS.fileBytes);
    // The cluster's disk is shared: the other pod has 1 KiB left.
    expect(b.write("/tmp/c", Buffer.alloc(2048))).toBe("No space left on device");
    expect(b.write("/tmp/c", Buffer.alloc(1024))).toBeUndefined();
    // Overwriting frees the old contents first; a deleted pod gives its space back.
    expect(a.write("/tmp/1", "small")).toBeUndefined();
    a.release();
    expect(disk.used).toBe(1024);
    expect(b.write("/tmp/d", Buffer.alloc(FILE_LIMITS.fileBytes))).toBeUndefined();
  });

  it("refuses /proc, /sys and directories with the system's words", () => {
    const f = new PodFileSystem(system);
    expect(f.write("/proc/x", "1")).toBe("Read-only file system");
    expect(f.write("/tmp", "1")).toBe("Is a directory");
    expect(new PodFileSystem(system, newDisk(), ["/apps"]).list("/apps")).toEqual([]);
  });

  it("saves and restores the written files, counted against the limits again", () => {
    const f = new PodFileSystem(system);
    const bin = randomBytes(1000);
    f.write("/tmp/a", bin);
    const g = new PodFileSystem(system);
    g.restore(f.files());
    expect(g.read("/tmp/a")!.equals(bin)).toBe(true);
    expect(g.version).toBeGreaterThan(0);
  });

  it("encodes each file for saving once per change, never serving old bytes after any write", () => {
    const f = new PodFileSystem(system);
    const expected = () => Object.fromEntries(f.files().map(([p, b]) => [p, b.toString("base64")]));
    const check = () => expect(f.encodedFiles()).toEqual(expected());
    f.write("/tmp/a", "aaaa");
    f.write("/tmp/b", randomBytes(3000));
    check();
    // Same size, other bytes: a cache keyed by size (or by the pod's files as a whole) would serve "aaaa".
    f.write("/tmp/a", "bbbb");
    check();
    // An append that fits the buffer already allocated (the same buffer, written in place).
    f.write("/tmp/a", "c", true);
    check();
    // Many small appends, each seen.
    for (let i = 0; i < 300; i++) {
      f.write("/tmp/log", Buffer.from([i & 255]), true);
      if (i % 37 === 0) check();
    }
    check();
    // Truncated to nothing, then appended to again.
    f.write("/tmp/b", "");
    check();
    expect(f.encodedFiles()["/tmp/b"]).toBe("");
    f.write("/tmp/b", "again", true);
    check();
    // A file written by a restore (another pod's saved files).
    const g = new PodFileSystem(system);
    g.write("/tmp/b", "stale");
    g.encodedFiles();
    g.restore(f.files());
    expect(g.encodedFiles()).toEqual(expected());
    // Gone with the pod.
    f.release();
    expect(f.encodedFiles()).toEqual({});
  });

  it("does not encode a file again that no write changed", () => {
    const f = new PodFileSystem(system);
    f.write("/tmp/big", randomBytes(100_000));
    f.write("/tmp/small", "x");
    f.encodedFiles();
    const toString = vi.spyOn(Buffer.prototype, "toString");
    try {
      f.write("/tmp/small", "y", true);
      const out = f.encodedFiles();
      expect(Buffer.from(out["/tmp/small"]!, "base64").toString()).toBe("xy");
      const encoded = toString.mock.calls.filter(([enc]) => enc === "base64");
      expect(encoded).toHaveLength(1);
    } finally {
      toString.mockRestore();
    }
  });

  it("makes, renames and removes: directories take a block, names are bounded, the kubelet's files stay", () => {
    const disk = newDisk();
    const f = new PodFileSystem(system, disk);
    expect(f.mkdir("/tmp/d")).toBeUndefined();
    expect(f.list("/tmp/d")).toEqual([]);
    expect(f.mkdir("/tmp/d")).toBe("File exists");
    expect(f.mkdir("/tmp/x/y")).toBe("No such file or directory");
    expect(f.mkdir("/sys/z")).toBe("Read-only file system");
    expect(disk.used).toBe(FILE_LIMITS.dirBytes);
    f.write("/tmp/d/a", "abc");
    expect(f.mkdir("/tmp/d/a/b")).toBe("Not a directory");
    expect(f.remove("/tmp/d")).toBe("Directory not empty");
    expect(f.rename("/tmp/d/a", "/tmp/b")).toBeUndefined();
    expect(f.read("/tmp/b")!.toString()).toBe("abc");
    expect(f.read("/tmp/d/a")).toBeUndefined();
    expect(disk.used).toBe(FILE_LIMITS.dirBytes + 3);
    expect(f.remove("/tmp/d")).toBeUndefined();
    expect(f.remove("/tmp/b")).toBeUndefined();
    expect(disk.used).toBe(0);
    expect(f.remove("/tmp/b")).toBe("No such file or directory");
    expect(f.remove("/etc/hostname")).toBe("Device or resource busy");
    expect(f.remove("/tmp")).toBe("Device or resource busy");
    expect(f.read("/etc/hostname")!.toString()).toBe("box\n");
  });

  it("empty files and directories are bounded in number, as inodes are", () => {
    const f = new PodFileSystem(system);
    for (let i = 0; i < FILE_LIMITS.podEntries; i++) expect(f.write(`/tmp/e${i}`, "")).toBeUndefined();
    expect(f.write("/tmp/more", "")).toBe("No space left on device");
    expect(f.mkdir("/tmp/dir")).toBe("No space left on device");
    // Rewriting a file that exists needs no new one.
    expect(f.write("/tmp/e0", "x")).toBeUndefined();
  });
});
