/**
 * A learner's HOME: their kubeconfig, a shell rc with kubectl completion and a clear prompt, and a directory per
 * stage holding the lab's files. Files the learner created are never overwritten.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

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
  /** kubectl's bash completion script, generated once per server, so a new shell need not run kubectl to get it. */
  completion?: string;
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
if [ -r /usr/share/bash-completion/bash_completion ]; then . /usr/share/bash-completion/bash_completion; fi
if [ -s ~/.kube/completion.bash ]; then . ~/.kube/completion.bash; else source <(kubectl completion bash 2>/dev/null); fi
complete -o default -F __start_kubectl k 2>/dev/null
`;

/** Creates or refreshes `home` from `spec`: the kubeconfig and rc are ours and rewritten; lab files only if absent. */
export function prepareHome(home: string, spec: HomeSpec): void {
  mkdirSync(path.join(home, ".kube"), { recursive: true });
  const kubeconfig = path.join(home, ".kube", "config");
  writeFileSync(kubeconfig, spec.kubeconfig, { mode: 0o600 });
  chmodSync(kubeconfig, 0o600);
  writeFileSync(path.join(home, ".bashrc"), bashrc);
  if (spec.completion) writeFileSync(path.join(home, ".kube", "completion.bash"), spec.completion);
  for (const d of spec.dirs) mkdirSync(path.join(home, safeRelative(d)), { recursive: true });
  for (const f of spec.files) {
    const target = path.join(home, safeRelative(f.path));
    if (existsSync(target)) continue;
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, f.content);
  }
}

/** Rejects absolute paths and `..`, so lab files always land inside HOME. */
export function safeRelative(p: string): string {
  const norm = path.posix.normalize(p.replaceAll("\\", "/"));
  if (path.posix.isAbsolute(norm) || norm === ".." || norm.startsWith("../"))
    throw new Error(`lab file path "${p}" must stay inside the learner's home`);
  return norm;
}
