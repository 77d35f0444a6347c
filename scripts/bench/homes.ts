/**
 * Homes benchmark (multi-user mode, real bubblewrap, as root): what a home that is its own filesystem adds to the time
 * from joining to the terminal's first prompt, against plain directories. For each kind, 8 learners join and open
 * their terminal one after another (a new home: for filesystems, an image is made and mounted); then the server
 * restarts (unmounting every home) and each opens their terminal again (the image checked and mounted again).
 * Medians; nothing here asserts a time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Learner, TermWatcher, connected } from "../../test/integration/web-client.ts";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function firstPrompt(l: Learner): Promise<void> {
  const s = l.socket();
  try {
    const w = new TermWatcher(s);
    await connected(s);
    s.emit("term:attach", { cols: 120, rows: 30 });
    await w.waitText(/learner@egresslab/, 30_000);
  } finally {
    s.close();
  }
}

export async function run(): Promise<void> {
  const { startWorkshopServer } = await import("../../server/src/http/server.ts");
  const { FakeProvider, fakeLab } = await import("../../test/integration/web-doubles.ts");
  const { probeHomeFilesystems } = await import("../../server/src/terminal/home-fs.ts");
  const probeDir = mkdtempSync(path.join(tmpdir(), "egl-bench-homes-probe-"));
  const cannot = probeHomeFilesystems(probeDir, process.env.PATH ?? "/usr/bin:/bin");
  rmSync(probeDir, { recursive: true, force: true });
  if (cannot) {
    console.log(`skipped: homes cannot be filesystems of their own here (${cannot})`);
    return;
  }
  const n = 8;
  for (const own of [false, true]) {
    const dataDir = mkdtempSync(path.join(tmpdir(), "egl-bench-homes-"));
    const provider = new FakeProvider();
    const start = (port: number) =>
      startWorkshopServer({
        port, host: "127.0.0.1", dataDir, provider, lab: fakeLab(provider), local: false, shellMode: "bwrap",
        idleTimeoutSeconds: 3600, pool: 0, buildWeb: false, homeFilesystems: own,
      }); // prettier-ignore
    let server = await start(0);
    const people: Learner[] = [];
    const fresh: number[] = [];
    const again: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const l = new Learner(server.url);
        await l.join(`H${i}`);
        await firstPrompt(l);
        fresh.push(performance.now() - t);
        people.push(l);
      }
      const port = server.port;
      await server.close();
      server = await start(port);
      for (const l of people) {
        const t = performance.now();
        await firstPrompt(l);
        again.push(performance.now() - t);
      }
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    console.log(
      `${own ? "own filesystem per home" : "plain directories     "}: join to first prompt median ${median(fresh).toFixed(0)} ms (${n} new learners); ` +
        `first prompt after a restart median ${median(again).toFixed(0)} ms (home ${own ? "checked and mounted again" : "as it was"})`,
    );
  }
}
