import type { Command } from "./command.ts";
import { EgresslabError } from "../shared/errors.ts";

export const policyCommand: Command = {
  summary: "",
  run() {
    return Promise.reject(new EgresslabError("unavailable", "the policy command is not built yet"));
  },
};
