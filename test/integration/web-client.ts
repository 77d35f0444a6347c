/** A learner as the integration tests drive one: the JSON API with a cookie jar, and a typed socket. */
import { io, type Socket } from "socket.io-client";
import type {
  ClientToServerEvents,
  ServerToClientEvents,
  TermOutput,
  WireError,
} from "../../server/src/realtime/protocol.ts";

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Whatever the API answered: tests assert on its shape directly. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export class Learner {
  cookie = "";
  constructor(readonly base: string) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: Json; headers: Headers }> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(this.cookie ? { Cookie: this.cookie } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    // The session cookie (with several replicas a response also carries the routing cookie, which is not kept).
    for (const set of res.headers.getSetCookie())
      if (set.startsWith("egresslab_session=")) this.cookie = set.split(";")[0]!;
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  async join(name: string, code?: string): Promise<Json> {
    const r = await this.call("POST", "/api/join", { name, code });
    if (r.status !== 200) throw new Error(`join failed: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }

  socket(auth?: Record<string, string>): TestSocket {
    return io(this.base, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      extraHeaders: this.cookie ? { Cookie: this.cookie } : {},
      ...(auth ? { auth } : {}),
    });
  }
}

/** Collects a socket's terminal output and errors, with waits. */
export class TermWatcher {
  text = "";
  end = 0;
  replays: string[] = [];
  errors: WireError[] = [];
  replaced = 0;
  constructor(readonly socket: TestSocket) {
    socket.on("term:output", (o: TermOutput & { replay?: boolean }) => {
      if (o.replay) this.replays.push(o.data);
      this.text += o.data;
      this.end = o.end;
    });
    socket.on("term:reset", () => (this.text = ""));
    socket.on("term:replaced", () => this.replaced++);
    socket.on("error", (e) => this.errors.push(e));
  }
  plain(): string {
    return this.text.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;?]*[a-zA-Z]", "g"), "");
  }
  async waitFor(test: () => boolean, what: string, ms = 10_000): Promise<void> {
    const t0 = Date.now();
    while (!test()) {
      if (Date.now() - t0 > ms)
        throw new Error(
          `timed out waiting for ${what}; terminal: ${JSON.stringify(this.plain().slice(-400))}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  waitText(re: RegExp, ms?: number): Promise<void> {
    return this.waitFor(() => re.test(this.plain()), String(re), ms);
  }
}

export function connected(s: TestSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.connected) return resolve();
    s.once("connect", () => resolve());
    s.once("connect_error", reject);
  });
}

export function nextEvent<E extends keyof ServerToClientEvents>(
  s: TestSocket,
  event: E,
  ms = 10_000,
): Promise<Parameters<ServerToClientEvents[E]>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${String(event)} within ${ms} ms`)), ms);
    (s.once as (e: string, l: (...a: unknown[]) => void) => void)(event as string, (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args as Parameters<ServerToClientEvents[E]>);
    });
  });
}
