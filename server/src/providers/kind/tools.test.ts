import { describe, expect, it } from "vitest";
import { CommandError } from "../cmd.ts";
import { ConflictError } from "../../shared/errors.ts";
import { dockerError, errorLine, kindCreateError } from "./tools.ts";

const failed = (stderr: string, failure: CommandError["failure"] = "exit"): CommandError =>
  new CommandError({
    command: "kind",
    args: ["create", "cluster"],
    exitCode: failure === "exit" ? 1 : undefined,
    stdout: "",
    stderr,
    failure,
  });

describe("kindCreateError", () => {
  const cases: [string, string, RegExp][] = [
    [
      "name clash",
      'Creating cluster "egresslab-a" ...\nERROR: failed to create cluster: node(s) already exist for a cluster with the name "egresslab-a"\n',
      /^a kind cluster named "egresslab-a" already exists: delete it with `kind delete cluster --name egresslab-a` first$/,
    ],
    [
      "docker down",
      'ERROR: failed to create cluster: failed to list nodes: command "docker ps -a" failed with error: exit status 1\nCommand Output: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n',
      /^kind needs a Docker engine: the Docker daemon is not running/,
    ],
    [
      "port in use",
      'ERROR: failed to create cluster: command "docker run ..." failed with error: exit status 125\nCommand Output: Bind for 0.0.0.0:6443 failed: port is already allocated\n',
      /a port it needs is already in use \(ERROR: failed to create cluster/,
    ],
    [
      "pull",
      'ERROR: failed to create cluster: failed to pull image "kindest/node:v1.33.1": exit status 1\n',
      /^kind could not pull the node image for "egresslab-a"/,
    ],
    [
      "anything else",
      "ERROR: failed to create cluster: something new\n",
      /^kind could not create cluster "egresslab-a": ERROR: failed to create cluster: something new$/,
    ],
  ];
  it.each(cases)("maps %s", (_, stderr, message) => {
    const err = kindCreateError(failed(stderr), "egresslab-a");
    expect(err.message).toMatch(message);
    expect(err.cause).toBeInstanceOf(CommandError);
  });
  it("makes a name clash a ConflictError", () => {
    expect(
      kindCreateError(
        failed('ERROR: failed to create cluster: node(s) already exist for a cluster with the name "x"'),
        "x",
      ),
    ).toBeInstanceOf(ConflictError);
  });
  it("reports timeouts and cancellations as such", () => {
    expect(kindCreateError(failed("", "timeout"), "x").message).toBe(
      'kind did not finish creating cluster "x" in time',
    );
    expect(kindCreateError(failed("", "cancelled"), "x").message).toBe(
      'creating kind cluster "x" was cancelled',
    );
  });
});

describe("dockerError", () => {
  it("tells a permission problem apart from a stopped daemon", () => {
    const perm = failed(
      'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.47/info": dial unix /var/run/docker.sock: connect: permission denied',
    );
    expect(dockerError(perm).message).toMatch(
      /permission denied on the Docker socket .* Add this user to the docker group/,
    );
  });
});

describe("errorLine", () => {
  it("prefers the last ERROR line", () => {
    expect(errorLine("a\nERROR: one\nb\nERROR: two\nCommand Output: x\n")).toBe("ERROR: two");
    expect(errorLine("only\nlines\n")).toBe("lines");
    expect(errorLine("")).toBe("");
  });
});
