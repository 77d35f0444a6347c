/** `egresslab proxy` as a user runs it: it prints its address, routes to the named replica, and stops on SIGTERM. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { execa } from "execa";
import { afterEach, expect, it } from "vitest";
import { replicaCookie } from "../scale/affinity-proxy.ts";

const entry = path.join(import.meta.dirname, "..", "..", "..", "scripts", "egresslab.mjs");
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function named(name: string): Promise<string> {
  const s = http.createServer((_req, res) => res.end(name));
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  cleanup.push(() => s.close());
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

it("routes by the cookie to the replica it names and stops cleanly", { timeout: 60_000 }, async () => {
  const [a, b] = await Promise.all([named("a"), named("b")]);
  const child = execa(
    process.execPath,
    [entry, "proxy", "--listen", "0", "--backend", `a=${a}`, "--backend", `b=${b}`],
    { reject: false, stdin: "ignore" },
  );
  cleanup.push(() => void child.kill("SIGKILL"));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void child.then((r) => reject(new Error(`proxy exited: ${r.stderr}`)));
  });
  for (const name of ["b", "a", "b"]) {
    const res = await fetch(url, { headers: { Cookie: `${replicaCookie}=${name}` } });
    expect(await res.text()).toBe(name);
  }
  child.kill("SIGTERM");
  expect((await child).exitCode).toBe(0);
});

it("says what is wrong with its options", { timeout: 60_000 }, async () => {
  const r = await execa(process.execPath, [entry, "proxy", "--backend", "r1", "--listen", "x"], {
    reject: false,
    stdin: "ignore",
  });
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toContain("--listen: expects a number");
  const none = await execa(process.execPath, [entry, "proxy"], { reject: false, stdin: "ignore" });
  expect(none.stderr).toContain("--backend: give at least one replica");
});
