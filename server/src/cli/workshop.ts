/**
 * `egresslab workshop list|create|open|pause|end`: a running server's workshops, through its instructor API. The
 * token is the server owner's (read from the data directory, or given); `create` prints the new workshop's id, its
 * instructor token (shown once) and its board's address.
 */
import path from "node:path";
import type { Command } from "./command.ts";
import { formatHelp, parseOptions, type OptionSpecs } from "../config/options.ts";
import { EgresslabError, ValidationError, type Problem } from "../shared/errors.ts";
import { instructorTokenFile, readSecretFile } from "../sessions/credentials.ts";
import type { WorkshopView } from "../http/workshop-view.ts";
import type { WireError } from "../realtime/protocol.ts";

export const workshopOptionSpecs = {
  url: {
    type: "string",
    default: "http://localhost:3000",
    env: "EGRESSLAB_URL",
    arg: "URL",
    description: "The server's address",
  },
  data: {
    type: "string",
    default: ".egresslab",
    env: "EGRESSLAB_DATA",
    arg: "DIR",
    description: "The server's data directory, where the owner's instructor token is kept",
  },
  token: {
    type: "string",
    env: "EGRESSLAB_INSTRUCTOR_TOKEN",
    arg: "TOKEN",
    description: "An instructor token (default: the owner's, from the data directory)",
  },
  id: { type: "string", arg: "ID", description: "open/pause/end: the workshop" },
  title: { type: "string", arg: "TEXT", description: "create: the workshop's title" },
  lab: { type: "string", default: "egress-workshop", arg: "ID", description: "create: the lab under labs/" },
  "join-code": { type: "string", arg: "CODE", description: "create: the code attendees enter to join" },
  capacity: { type: "number", default: 30, arg: "N", description: "create: most attendees" },
  starts: { type: "string", arg: "TIME", description: "create: when it starts (ISO time)" },
  ends: {
    type: "string",
    arg: "TIME",
    description: "create: when it ends; joins are refused after (ISO time)",
  },
  output: {
    type: "string",
    short: "o",
    arg: "FORMAT",
    choices: ["text", "json"],
    default: "text",
    description: "text or json",
  },
} as const satisfies OptionSpecs;

const usage = "egresslab workshop list|create|open|pause|end [options]";

async function call<T>(base: string, token: string, method: string, url: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(base.replace(/\/+$/, "") + url, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new EgresslabError(
      "unavailable",
      `cannot reach the server at ${base}; is egresslab serve running?`,
      {
        cause: err,
      },
    );
  }
  const json = (await res.json().catch(() => ({}))) as T & { error?: WireError };
  if (!res.ok) {
    const e = json.error;
    if (e?.problems?.length) throw new ValidationError(e.problems);
    throw new EgresslabError(
      res.status === 401 ? "unauthorized" : res.status === 404 ? "not-found" : "invalid",
      e?.message ?? `the server answered ${res.status}`,
    );
  }
  return json;
}

const line = (w: WorkshopView): string =>
  [
    w.id,
    w.state,
    `${w.attendees}${w.capacity ? `/${w.capacity}` : ""} attendees`,
    `clusters ready ${w.pool.ready}/${w.pool.target}`,
    w.lab.id,
    w.title,
  ].join("\t");

export const workshopCommand: Command = {
  summary: "Create, list, open, pause and end workshops on a running server",
  async run(argv) {
    const o = parseOptions(workshopOptionSpecs, argv);
    const [action, ...extra] = o._;
    if (o.help || !action) {
      process.stdout.write(
        formatHelp(usage, workshopOptionSpecs) +
          "\n\nExamples:\n" +
          "  egresslab workshop create --title 'Tuesday' --join-code tue-42 --capacity 40\n" +
          "  egresslab workshop open --id ws-…\n" +
          "  egresslab workshop end --id ws-…   # every cluster torn down; results kept\n",
      );
      return o.help ? 0 : 2;
    }
    const problems: Problem[] = [];
    if (!["list", "create", "open", "pause", "end"].includes(action))
      problems.push({ where: action, message: "unknown action: use list, create, open, pause or end" });
    if (extra.length) problems.push({ where: extra.join(" "), message: "unexpected arguments" });
    if (["open", "pause", "end"].includes(action) && !o.id)
      problems.push({
        where: "--id",
        message: `${action} needs the workshop's id (see egresslab workshop list)`,
      });
    if (action === "create") {
      if (!o.title) problems.push({ where: "--title", message: "create needs a title" });
      if (!o["join-code"]) problems.push({ where: "--join-code", message: "create needs a join code" });
    }
    const token = o.token ?? readSecretFile(instructorTokenFile(path.resolve(o.data)));
    if (!token)
      problems.push({
        where: "--token",
        message: `no instructor token: give --token, or --data the server's data directory`,
      });
    if (problems.length) throw new ValidationError(problems);
    const out = (v: unknown, text: string): void =>
      void process.stdout.write((o.output === "json" ? JSON.stringify(v, null, 2) : text) + "\n");
    const api = <T>(method: string, url: string, body?: unknown): Promise<T> =>
      call<T>(o.url, token!, method, url, body);
    if (action === "list") {
      const { workshops } = await api<{ workshops: WorkshopView[] }>("GET", "/api/instructor/workshops");
      out(workshops, workshops.map(line).join("\n") || "no workshops");
      return 0;
    }
    if (action === "create") {
      const r = await api<{ workshop: WorkshopView; instructorToken: string; boardUrl?: string }>(
        "POST",
        "/api/instructor/workshops",
        {
          title: o.title,
          lab: o.lab,
          joinCode: o["join-code"],
          capacity: o.capacity,
          ...(o.starts ? { startsAt: o.starts } : {}),
          ...(o.ends ? { endsAt: o.ends } : {}),
        },
      );
      out(
        r,
        [
          line(r.workshop),
          `instructor token (shown once): ${r.instructorToken}`,
          ...(r.boardUrl ? [`instructor board: ${r.boardUrl}`] : []),
          `attendees join with the code; open it with: egresslab workshop open --id ${r.workshop.id}`,
        ].join("\n"),
      );
      return 0;
    }
    const w = await api<WorkshopView>(
      "POST",
      `/api/instructor/workshops/${encodeURIComponent(o.id!)}/${action}`,
    );
    out(w, line(w));
    return 0;
  },
};
