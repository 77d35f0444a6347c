import { afterEach, describe, expect, it } from "vitest";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { flowsScript } from "./flows-helper.ts";
import { bashrc, prepareHome, type HomeSpec } from "./home.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const spec: HomeSpec = {
  kubeconfig: "kind: Config\n",
  dirs: ["stage-0", "stage-1"],
  files: [
    { path: "stage-1/policy.yaml", content: "lab file\n" },
    { path: "stage-1/deep/nested.txt", content: "nested\n" },
  ],
  completion: "# completion\n",
};

/** A home and, beside it, a "host" directory with a file and a directory the learner must not reach. */
function setup(): { home: string; host: string; victim: string } {
  const root = mkdtempSync(path.join(tmpdir(), "egl-home-"));
  dirs.push(root);
  const home = path.join(root, "learner", "home");
  const host = path.join(root, "host");
  mkdirSync(home, { recursive: true });
  mkdirSync(host);
  const victim = path.join(host, "passwd");
  writeFileSync(victim, "root:x:0:0\n");
  chmodSync(victim, 0o644);
  return { home, host, victim };
}

/** Every file under `dir`, with its content: to prove nothing outside HOME changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    const st = lstatSync(p);
    out[path.relative(dir, p)] = st.isFile()
      ? `${st.mode.toString(8)}:${readFileSync(p, "utf8")}`
      : st.isDirectory()
        ? "dir"
        : "other";
  }
  return out;
}

describe("prepareHome", () => {
  it("writes the kubeconfig (0600), the rc, the completion, stage directories and absent lab files", () => {
    const { home } = setup();
    prepareHome(home, spec);
    expect(readFileSync(path.join(home, ".kube/config"), "utf8")).toBe("kind: Config\n");
    expect(statSync(path.join(home, ".kube/config")).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(home, ".bashrc"), "utf8")).toBe(bashrc);
    expect(readFileSync(path.join(home, ".kube/completion.bash"), "utf8")).toBe("# completion\n");
    expect(readFileSync(path.join(home, "bin/flows"), "utf8")).toBe(flowsScript);
    expect(statSync(path.join(home, "bin/flows")).mode & 0o777).toBe(0o755);
    expect(bashrc).toContain('PATH="$HOME/bin:$PATH"');
    expect(readFileSync(path.join(home, "stage-1/deep/nested.txt"), "utf8")).toBe("nested\n");
    writeFileSync(path.join(home, "stage-1/policy.yaml"), "learner's edit\n");
    prepareHome(home, { ...spec, kubeconfig: "kind: Config # new\n" });
    expect(readFileSync(path.join(home, "stage-1/policy.yaml"), "utf8")).toBe("learner's edit\n");
    expect(readFileSync(path.join(home, ".kube/config"), "utf8")).toBe("kind: Config # new\n");
    expect(readdirSync(path.join(home, ".kube")).sort()).toEqual(["completion.bash", "config"]);
  });

  const fileTargets = [
    ".bashrc",
    ".kube/config",
    ".kube/completion.bash",
    "stage-1/policy.yaml",
    "stage-1/deep/nested.txt",
  ];
  it.each(fileTargets)("does not follow a link planted at %s (to a host file)", (rel) => {
    const { home, host, victim } = setup();
    prepareHome(home, spec);
    if (rel.startsWith("stage-1/")) rmSync(path.join(home, rel));
    const before = snapshot(host);
    rmSync(path.join(home, rel), { force: true });
    symlinkSync(victim, path.join(home, rel));
    prepareHome(home, spec);
    expect(snapshot(host)).toEqual(before);
    if (!rel.startsWith("stage-1/")) {
      expect(lstatSync(path.join(home, rel)).isFile()).toBe(true);
    } else {
      // A lab file the learner replaced is theirs: left as it is, and not written through.
      expect(lstatSync(path.join(home, rel)).isSymbolicLink()).toBe(true);
    }
  });

  it.each([".kube", "stage-0", "stage-1", "stage-1/deep"])(
    "does not follow a directory link planted at %s",
    (rel) => {
      const { home, host } = setup();
      prepareHome(home, spec);
      const before = snapshot(host);
      rmSync(path.join(home, rel), { recursive: true, force: true });
      symlinkSync(host, path.join(home, rel));
      prepareHome(home, spec);
      expect(snapshot(host)).toEqual(before);
      expect(lstatSync(path.join(home, rel)).isDirectory()).toBe(true);
    },
  );

  it("treats a relative link out of HOME like any other link", () => {
    const { home, host } = setup();
    prepareHome(home, spec);
    const before = snapshot(host);
    rmSync(path.join(home, ".kube"), { recursive: true });
    symlinkSync("../../host", path.join(home, ".kube"));
    rmSync(path.join(home, ".bashrc"));
    symlinkSync("../../host/passwd", path.join(home, ".bashrc"));
    prepareHome(home, spec);
    expect(snapshot(host)).toEqual(before);
  });

  it("moves a plain file out of the way of a directory it needs", () => {
    const { home } = setup();
    writeFileSync(path.join(home, "stage-0"), "mine");
    prepareHome(home, spec);
    expect(lstatSync(path.join(home, "stage-0")).isDirectory()).toBe(true);
    const moved = readdirSync(home).find((n) => n.startsWith("stage-0.moved-"));
    expect(moved && readFileSync(path.join(home, moved), "utf8")).toBe("mine");
  });

  it("refuses lab paths that leave HOME", () => {
    const { home } = setup();
    expect(() => prepareHome(home, { ...spec, files: [{ path: "../escape", content: "x" }] })).toThrow(
      /inside the learner's home/,
    );
    expect(() => prepareHome(home, { ...spec, dirs: ["/etc"] })).toThrow(/inside the learner's home/);
  });

  it("with an owner, hands HOME and everything written to that user", () => {
    if (process.getuid?.() !== 0) return expect(process.getuid?.()).not.toBe(0);
    const { home } = setup();
    const owner = { uid: 1_500_000_123, gid: 1_500_000_123 };
    prepareHome(home, spec, owner);
    for (const rel of ["", ".kube", ".kube/config", ".bashrc", "stage-1", "stage-1/deep/nested.txt"]) {
      const st = lstatSync(path.join(home, rel));
      expect([rel, st.uid, st.gid]).toEqual([rel, owner.uid, owner.gid]);
    }
  });
});
