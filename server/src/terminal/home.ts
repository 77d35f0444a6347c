/**
 * A learner's HOME: their kubeconfig, a shell rc with kubectl completion and a clear prompt, and a directory per
 * stage holding the lab's files. Files the learner created are never overwritten.
 *
 * The learner controls everything inside HOME (their shell runs there) and the server may run as root, so preparing it
 * never follows a link and never writes outside it: every directory is opened with O_NOFOLLOW|O_DIRECTORY and the next
 * component is looked up relative to that open directory (through `/proc/self/fd/N/name`, Node's stand-in for
 * `openat`), so swapping a directory for a link between two steps does not redirect a write. Files the server owns
 * (`.bashrc`, `.kube/config`, completion) are written to a fresh name with O_CREAT|O_EXCL and renamed over the old one
 * (a rename replaces a planted link instead of writing through it); mode and owner are set on the open file.
 * A planted link where a directory belongs is removed (a link in one's own home; nothing outside changes).
 */
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { flowsScript } from "./flows-helper.ts";

export interface HomeFile {
  /** Path relative to HOME, e.g. `stage-1/default-deny.yaml`. */
  path: string;
  content: string;
}

export interface HomeSpec {
  kubeconfig: string;
  /** Directories to create (relative to HOME), e.g. `stage-0` … `stage-4`. */
  dirs: string[];
  files: HomeFile[];
  /** The id of the learner's cluster connection, for the sandbox's way to its API. */
  clusterId?: string;
  /** kubectl's bash completion script, generated once per server, so a new shell need not run kubectl to get it. */
  completion?: string;
  /** The lab's workload namespaces, where the toolbox (on a real cluster) may `kubectl exec`. */
  toolboxExecNamespaces?: string[];
}

/** The host user that owns HOME and what is written in it (the learner's uid when the server runs as root). */
export interface HomeOwner {
  uid: number;
  gid: number;
}

export const bashrc = `# egresslab learner shell
HISTFILE=~/.bash_history
HISTSIZE=5000
HISTFILESIZE=10000
shopt -s histappend checkwinsize
PROMPT_COMMAND='history -a'
PS1='\\[\\e[1;32m\\]learner@egresslab\\[\\e[0m\\]:\\[\\e[1;34m\\]\\w\\[\\e[0m\\]$ '
alias ls='ls --color=auto'
alias ll='ls -la'
alias k=kubectl
PATH="$HOME/bin:$PATH"
if [ -r /usr/share/bash-completion/bash_completion ]; then . /usr/share/bash-completion/bash_completion; fi
if [ -s ~/.kube/completion.bash ]; then . ~/.kube/completion.bash; else source <(kubectl completion bash 2>/dev/null); fi
complete -o default -F __start_kubectl k 2>/dev/null
`;

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;
const viaProc = existsSync("/proc/self/fd");

/** An open directory inside HOME. */
class Dir {
  private constructor(
    readonly fd: number,
    /** The path, for messages and for systems without /proc (single-user mode). */
    readonly where: string,
  ) {}

  /** Opens HOME itself; it must be a real directory (its parent belongs to the server, not the learner). */
  static openHome(home: string, owner: HomeOwner | undefined): Dir {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const fd = openSync(home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    const dir = new Dir(fd, home);
    if (owner) {
      const st = fstatSync(fd);
      if (st.uid !== owner.uid || st.gid !== owner.gid) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, 0o700);
    }
    return dir;
  }

  /** The path of `name` in this directory, resolved relative to the open directory, not to its path. */
  at(name: string): string {
    if (!name || name === "." || name === ".." || name.includes("/"))
      throw new Error(`"${name}" is not a single path component`);
    return viaProc ? `/proc/self/fd/${this.fd}/${name}` : path.join(this.where, name);
  }

  /** Opens (creating when missing) the subdirectory `name`; a link or file in its place is moved out of the way. */
  subdir(name: string, owner: HomeOwner | undefined): Dir {
    const p = this.at(name);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        mkdirSync(p, { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let fd: number;
      try {
        fd = openSync(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ELOOP" && code !== "ENOTDIR" && code !== "ENOENT") throw err;
        this.moveAside(name);
        continue;
      }
      const dir = new Dir(fd, path.join(this.where, name));
      if (owner) {
        const st = fstatSync(fd);
        if (st.uid !== owner.uid || st.gid !== owner.gid) fchownSync(fd, owner.uid, owner.gid);
      }
      return dir;
    }
    throw new Error(`could not make ${path.join(this.where, name)} a directory`);
  }

  /** Replaces `name` with `content` (never writing through what is there now). */
  replaceFile(name: string, content: string, mode: number, owner: HomeOwner | undefined): void {
    const tmp = `.${name}.egresslab-${randomBytes(6).toString("hex")}`;
    try {
      this.createFile(tmp, content, mode, owner);
      renameSync(this.at(tmp), this.at(name));
    } catch (err) {
      try {
        unlinkSync(this.at(tmp));
      } catch {
        /* already gone */
      }
      throw err;
    }
  }

  /** Creates `name` with `content`; false when something (a file, a link, anything) is already there. */
  createFile(name: string, content: string, mode: number, owner: HomeOwner | undefined): boolean {
    let fd: number;
    try {
      fd = openSync(this.at(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
    try {
      const buf = Buffer.from(content);
      for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
      fchmodSync(fd, mode);
      if (owner) fchownSync(fd, owner.uid, owner.gid);
    } catch (err) {
      // A full home: no half-written file stays behind (the name is ours, made with O_EXCL; unlink follows no link).
      try {
        unlinkSync(this.at(name));
      } catch {
        /* already gone */
      }
      throw err;
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** Takes a non-directory out of the way of a directory: a link is removed, a file renamed. */
  private moveAside(name: string): void {
    const p = this.at(name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) return;
    if (st.isSymbolicLink()) unlinkSync(p);
    else renameSync(p, this.at(`${name}.moved-${randomBytes(3).toString("hex")}`));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Creates or refreshes `home` from `spec`: the kubeconfig and rc are ours and replaced; lab files only if absent.
 * With `owner`, HOME and everything written are owned by that user (the server runs as root, the shell as them).
 */
export function prepareHome(home: string, spec: HomeSpec, owner?: HomeOwner): void {
  const root = Dir.openHome(home, owner);
  const open: Dir[] = [root];
  try {
    const kube = root.subdir(".kube", owner);
    open.push(kube);
    kube.replaceFile("config", spec.kubeconfig, 0o600, owner);
    if (spec.completion) kube.replaceFile("completion.bash", spec.completion, 0o644, owner);
    root.replaceFile(".bashrc", bashrc, 0o644, owner);
    const bin = root.subdir("bin", owner);
    open.push(bin);
    bin.replaceFile("flows", flowsScript, 0o755, owner);
    for (const d of spec.dirs) {
      let dir = root;
      for (const part of components(d)) {
        dir = dir.subdir(part, owner);
        open.push(dir);
      }
    }
    for (const f of spec.files) {
      const parts = components(f.path);
      const name = parts.pop()!;
      let dir = root;
      for (const part of parts) {
        dir = dir.subdir(part, owner);
        open.push(dir);
      }
      dir.createFile(name, f.content, 0o644, owner);
    }
  } finally {
    for (const d of open) d.close();
  }
}

function components(p: string): string[] {
  const parts = safeRelative(p).split("/");
  if (parts.some((x) => x === "" || x === "." || x === ".."))
    throw new Error(`lab file path "${p}" must stay inside the learner's home`);
  return parts;
}

/** Rejects absolute paths and `..`, so lab files always land inside HOME. */
export function safeRelative(p: string): string {
  const norm = path.posix.normalize(p.replaceAll("\\", "/"));
  if (path.posix.isAbsolute(norm) || norm === ".." || norm.startsWith("../") || norm === ".")
    throw new Error(`lab file path "${p}" must stay inside the learner's home`);
  return norm.replace(/\/$/, "");
}
