/**
 * What answers on a pod's TCP ports: the servers its images run (the image table's `serves`, `images.ts`) — nginx's
 * welcome page with its access log, Whisker's UI and flow API, a page naming the pod for other HTTP servers, and
 * servers that accept and stay silent (databases, DNS over TCP). One answer for both ways in: a connection over the
 * pod network (`peer`: what `curl` from another pod reaches, after routing and policy) and a port-forwarded
 * connection (`connect`: bytes over real HTTP/1.1, Whisker's event stream live).
 */
import type { Duplex } from "node:stream";
import type { ContainerLogs } from "./logs.ts";
import type { HttpRequest, HttpResponse, Peer } from "../../net/podnet.ts";
import { whiskerListener, whiskerPeer, type WhiskerApi } from "../../net/whisker-http.ts";
import type { Clock } from "../../shared/clock.ts";
import type { KubeObject } from "../../store/types.ts";
import { connectListener, peerListener } from "./port-forward.ts";
import { portContainer, portService } from "./ports.ts";

export interface ListenerDeps {
  clock: Clock;
  /** Where nginx writes its access log (the log of the container serving the port). */
  logs: ContainerLogs;
  /** Goldmane's flows, for the Whisker pod's HTTP API. */
  whisker?: WhiskerApi;
}

export interface PodListeners {
  /** What answers a connection to the pod's `port` from `clientIp` (given that something listens there). */
  peer(pod: KubeObject, port: number, clientIp: string): Peer;
  /**
   * A connection to the pod's `port` from inside its network namespace (127.0.0.1), as port-forward opens it; the
   * caller has checked that something listens there.
   */
  connect(pod: KubeObject, port: number): Duplex;
}

const NGINX_PAGE = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`;

const NGINX_404 =
  "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.27.3</center>\r\n</body>\r\n</html>\r\n";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function podListeners(d: ListenerDeps): PodListeners {
  const peer = (pod: KubeObject, port: number, clientIp: string): Peer => {
    const service = portService(pod, port);
    const whisker = d.whisker && whiskerPeer(service, d.whisker, pod.metadata.name);
    if (whisker) return whisker;
    const nginx = service === "nginx";
    return {
      description: pod.metadata.name,
      speaksHttp: service !== "silent",
      certificateValidFor: () => false,
      http: (req: HttpRequest): HttpResponse => {
        let status = 200;
        let body = nginx ? NGINX_PAGE : `${pod.metadata.name}\n`;
        if (nginx && req.path !== "/" && req.path !== "/index.html") {
          status = 404;
          body = NGINX_404;
        }
        if (nginx) {
          const t = new Date(d.clock.now());
          const p2 = (n: number): string => String(n).padStart(2, "0");
          const stamp = `${p2(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())} +0000`;
          const ua = req.headers["user-agent"] ?? req.headers["User-Agent"] ?? "-";
          const size = req.method === "HEAD" ? 0 : Buffer.byteLength(body);
          d.logs.write(
            pod.metadata.namespace ?? "",
            pod.metadata.name,
            d.clock.now(),
            `${clientIp} - - [${stamp}] "${req.method} ${req.path} HTTP/1.1" ${status} ${size} "-" "${ua}" "-"`,
            portContainer(pod, port),
          );
        }
        return {
          status,
          reason: status === 200 ? "OK" : "Not Found",
          headers: {
            ...(nginx ? { server: "nginx/1.27.3" } : {}),
            "content-type": nginx ? "text/html" : "text/plain; charset=utf-8",
            "content-length": String(Buffer.byteLength(body)),
          },
          body,
        };
      },
    };
  };

  return {
    peer,
    connect(pod, port) {
      const whisker = d.whisker && whiskerListener(pod, port, d.whisker);
      return connectListener(whisker ?? peerListener(peer(pod, port, "127.0.0.1"), port));
    },
  };
}
