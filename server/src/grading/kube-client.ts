/**
 * `ClusterClient` over a kubeconfig, with `@kubernetes/client-node`: the only way grading talks to a cluster.
 */
import https from "node:https";
import { PassThrough } from "node:stream";
import {
  ApiException,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Status,
} from "@kubernetes/client-node";
import { EgresslabError } from "../shared/errors.ts";
import { whiskerGet } from "./whisker-client.ts";
import {
  mergedKinds,
  type ClusterClient,
  type ClusterObject,
  type ExecResult,
  type ObjectRef,
} from "./cluster.ts";

function status(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

function message(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: string } | string | undefined;
    const text = typeof body === "string" ? body : body?.message;
    try {
      return (
        (typeof text === "string" ? (JSON.parse(text) as { message?: string }).message : undefined) ??
        String(text)
      );
    } catch {
      return String(text ?? err.message);
    }
  }
  return err instanceof Error ? err.message : String(err);
}

function header(ref: ObjectRef) {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
}

function exitCode(s: V1Status): number {
  if (s.status === "Success") return 0;
  const cause = s.details?.causes?.find((c) => c.reason === "ExitCode");
  const n = Number(cause?.message);
  return Number.isInteger(n) ? n : 1;
}

/** A client for the cluster behind `kubeconfig` (YAML text). */
export function createKubeClient(kubeconfig: string): ClusterClient {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const exec = new Exec(kc);

  const wrap = (what: string, err: unknown): EgresslabError =>
    new EgresslabError(
      status(err) === 422 || status(err) === 400 ? "invalid" : "unavailable",
      `${what}: ${message(err)}`,
      {
        cause: err,
      },
    );

  return {
    async apply(obj, opts) {
      const what = `applying ${obj.kind} ${obj.metadata.namespace ? obj.metadata.namespace + "/" : ""}${obj.metadata.name}`;
      try {
        await objects.create(obj);
        return;
      } catch (err) {
        if (status(err) !== 409) throw wrap(what, err);
      }
      if (!opts?.replace && mergedKinds.has(obj.kind)) {
        try {
          await objects.patch(obj, undefined, undefined, "egresslab", undefined, PatchStrategy.MergePatch);
          return;
        } catch (err) {
          throw wrap(what, err);
        }
      }
      try {
        const current = (await objects.read(
          header({
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: obj.metadata.name,
            ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
          }),
        )) as unknown as ClusterObject;
        const next: ClusterObject = {
          ...obj,
          metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion },
        };
        // A Service keeps its allocated cluster IP, as `kubectl apply` leaves it.
        const spec = next.spec as Record<string, unknown> | undefined;
        const cspec = current.spec as Record<string, unknown> | undefined;
        if (obj.kind === "Service" && spec && cspec && spec.clusterIP === undefined) {
          next.spec = { ...spec, clusterIP: cspec.clusterIP, clusterIPs: cspec.clusterIPs };
        }
        await objects.replace(next);
      } catch (err) {
        throw wrap(what, err);
      }
    },
    async get(ref) {
      try {
        return (await objects.read(header(ref))) as unknown as ClusterObject;
      } catch (err) {
        if (status(err) === 404) return undefined;
        throw wrap(`reading ${ref.kind} ${ref.name}`, err);
      }
    },
    async list(apiVersion, kind, opts = {}) {
      try {
        const r = await objects.list(
          apiVersion,
          kind,
          opts.namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          opts.labelSelector,
        );
        return r.items.map((i) => ({ apiVersion, kind, ...(i as object) }) as ClusterObject);
      } catch (err) {
        if (status(err) === 404 || /Unrecognized API version and kind|not found/i.test(message(err)))
          return [];
        throw wrap(`listing ${kind}`, err);
      }
    },
    async patch(ref, patch) {
      const h = header(ref);
      const meta = (patch.metadata ?? {}) as Record<string, unknown>;
      try {
        return (await objects.patch(
          { ...patch, ...h, metadata: { ...meta, ...h.metadata } },
          undefined,
          undefined,
          "egresslab",
          undefined,
          PatchStrategy.MergePatch,
        )) as unknown as ClusterObject;
      } catch (err) {
        if (status(err) === 409)
          throw new EgresslabError("conflict", `${ref.kind} ${ref.name} changed meanwhile`, { cause: err });
        throw wrap(`patching ${ref.kind} ${ref.name}`, err);
      }
    },
    async delete(ref) {
      try {
        await objects.delete(header(ref), undefined, undefined, 0, undefined, "Background");
        return true;
      } catch (err) {
        if (status(err) === 404) return false;
        throw wrap(`deleting ${ref.kind} ${ref.name}`, err);
      }
    },
    async exec(namespace, pod, container, command, timeoutMs): Promise<ExecResult> {
      const out = new PassThrough();
      const err = new PassThrough();
      let stdout = "";
      let stderr = "";
      out.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
      err.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
      return new Promise<ExecResult>((resolve, reject) => {
        let code: number | undefined;
        let done = false;
        const finish = (r: ExecResult | Error): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (r instanceof Error) reject(r);
          else resolve(r);
        };
        const timer = setTimeout(() => {
          ws?.close();
          finish({ code: 124, stdout, stderr: stderr + `exec did not finish within ${timeoutMs} ms\n` });
        }, timeoutMs);
        let ws: { close(): void; on(e: "close", cb: () => void): void } | undefined;
        exec
          .exec(namespace, pod, container, command, out, err, null, false, (s) => {
            code = exitCode(s);
            // The runtime could not start the program (not in the image): no exit code, the kubelet's error instead.
            if (s.status === "Failure" && s.reason !== "NonZeroExitCode" && s.message) {
              stderr += `${s.message}\n`;
              code = 126;
            }
          })
          .then(
            (socket) => {
              ws = socket;
              socket.on("close", () => {
                // Let the streams drain what the last frames carried.
                setImmediate(() => finish({ code: code ?? 1, stdout, stderr }));
              });
            },
            (e: unknown) => finish(wrap(`exec in ${namespace}/${pod}`, e)),
          );
      });
    },
    whisker: (path) => whiskerGet(kc, path),
    async request(method, path, body) {
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new EgresslabError("invalid", "the kubeconfig has no current cluster");
      const url = new URL(path, cluster.server);
      const opts: https.RequestOptions = { method, headers: {} };
      await kc.applyToHTTPSOptions(opts);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      if (payload) opts.headers = { ...opts.headers, "content-type": "application/json" };
      return new Promise((resolve, reject) => {
        const req = https.request(url, opts, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on("error", reject);
        });
        req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.on("error", (e) =>
          reject(new EgresslabError("unavailable", `${method} ${path}: ${e.message}`, { cause: e })),
        );
        req.end(payload);
      });
    },
  };
}
