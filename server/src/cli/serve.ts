import type { Command } from "./command.ts";
import { EgresslabError } from "../shared/errors.ts";

export const serveCommand: Command = {
  summary: "",
  run() {
    return Promise.reject(new EgresslabError("unavailable", "the serve command is not built yet"));
  },
};
