import type { Command } from "./command.ts";
import { EgresslabError } from "../shared/errors.ts";

export const simCommand: Command = {
  summary: "",
  run() {
    return Promise.reject(new EgresslabError("unavailable", "the sim command is not built yet"));
  },
};
