import type { Command } from "./command.ts";
import { EgresslabError } from "../shared/errors.ts";

export const validateCommand: Command = {
  summary: "",
  run() {
    return Promise.reject(new EgresslabError("unavailable", "the validate command is not built yet"));
  },
};
