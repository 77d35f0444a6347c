/** The workshop server for the end-to-end tests: the real simulated provider and a real lab, in this process. */
import path from "node:path";
import { createProvider } from "../../server/src/providers/select.ts";
import { loadLab } from "../../server/src/labs/index.ts";
import * as grading from "../../server/src/grading/index.ts";
import { labRunner } from "../../server/src/sessions/lab-runner.ts";
import { startWorkshopServer, type WorkshopServer } from "../../server/src/http/server.ts";

export async function startServer(opts: {
  labDir: string;
  dataDir: string;
  port?: number;
}): Promise<WorkshopServer> {
  const lab = await loadLab(path.resolve(opts.labDir));
  const provider = await createProvider({ provider: "sim", dataDir: opts.dataDir });
  return startWorkshopServer({
    port: opts.port ?? 0,
    host: "127.0.0.1",
    dataDir: opts.dataDir,
    provider,
    lab: labRunner(lab, grading),
    local: false,
    idleTimeoutSeconds: 600,
    pool: 1,
    instructorToken: "e2e-instructor",
  });
}
