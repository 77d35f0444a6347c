/** The learner's page: join, or pick up where the learner left off. */
import "@xterm/xterm/css/xterm.css";
import { api, ApiError } from "./api.ts";
import { LearnerApp, showError } from "./app.ts";
import { showJoin } from "./join.ts";

async function start(): Promise<void> {
  const root = document.getElementById("app")!;
  try {
    const state = await api.session();
    new LearnerApp(root, state);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      await showJoin(root, (s) => new LearnerApp(root, s));
      return;
    }
    showError(err);
  }
}

void start();
