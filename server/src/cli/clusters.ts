import type { Command } from "./command.ts";
import { EgresslabError } from "../shared/errors.ts";

export const clustersCommand: Command = {
  summary: "",
  run() {
    return Promise.reject(new EgresslabError("unavailable", "the clusters command is not built yet"));
  },
};
