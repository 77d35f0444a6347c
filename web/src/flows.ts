/**
 * The flow view: a live table of the cluster's flows (Calico Whisker's, read by the server through port-forward as on any
 * cluster), filtered by namespace, workload, action and destination, and an egress map (workloads → destinations,
 * what is allowed or denied now). The grader's probe flows are hidden unless asked for, and marked when shown. Fed by
 * `flows:snapshot` / `flows:update` on the socket.
 */
import type { FlowView } from "../../server/src/realtime/protocol.ts";
import type { LabSocket } from "./socket.ts";
import { clear, h, svg } from "./dom.ts";
import {
  egressEdges,
  emptyFilter,
  matches,
  mergeFlows,
  windowStart,
  type FlowFilter,
  type FlowWindow,
} from "./flow-filter.ts";

const maxRows = 300;

export class FlowsPane {
  private readonly flows = new Map<string, FlowView>();
  private filter: FlowFilter = { ...emptyFilter };
  private readonly nsSelect: HTMLSelectElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly map: HTMLElement;
  private readonly status: HTMLElement;
  private renderScheduled = false;
  /** When the learner opened the current stage (for the "since this stage" window). */
  private stageStart = Date.now();
  visible = false;

  constructor(
    readonly el: HTMLElement,
    socket: LabSocket,
  ) {
    const set = (k: keyof FlowFilter) => (e: Event) => {
      this.filter = { ...this.filter, [k]: (e.target as HTMLInputElement).value } as FlowFilter;
      this.render();
    };
    this.nsSelect = h(
      "select",
      { id: "flow-ns", onchange: set("namespace") },
      h("option", { value: "" }, "All namespaces"),
    );
    this.status = h("span", { class: "flow-status", id: "flow-status" }, "Waiting for flows…");
    const filters = h(
      "div",
      { class: "flow-filters", role: "search" },
      h("label", {}, "Namespace", this.nsSelect),
      h(
        "label",
        {},
        "Workload",
        h("input", {
          id: "flow-workload",
          type: "search",
          placeholder: "e.g. checkout",
          oninput: set("workload"),
        }),
      ),
      h(
        "label",
        {},
        "Action",
        h(
          "select",
          { id: "flow-action", onchange: set("action") },
          h("option", { value: "" }, "Any"),
          h("option", { value: "allow" }, "Allowed"),
          h("option", { value: "deny" }, "Denied"),
        ),
      ),
      h(
        "label",
        { title: "What the staged policies would do if they were enforced (Calico's pending verdict)" },
        "Staged",
        h(
          "select",
          { id: "flow-pending", onchange: set("pending") },
          h("option", { value: "" }, "Any"),
          h("option", { value: "deny" }, "Would deny"),
          h("option", { value: "allow" }, "Would allow"),
        ),
      ),
      h(
        "label",
        { title: "Which flows the table and the egress map show" },
        "Window",
        h(
          "select",
          { id: "flow-window", onchange: set("window") },
          h("option", { value: "5m", selected: true }, "Last 5 minutes"),
          h("option", { value: "15m" }, "Last 15 minutes"),
          h("option", { value: "stage" }, "Since this stage"),
          h("option", { value: "all" }, "All kept"),
        ),
      ),
      h(
        "label",
        {
          class: "flow-probes",
          title:
            "The workshop's checks probe from pods of their own (egresslab-probe-…, labelled egresslab.io/probe=true) so that their traffic never passes for your workloads'. Hidden unless you tick this.",
        },
        h("input", {
          id: "flow-probes",
          type: "checkbox",
          onchange: (e: Event) => {
            this.filter = { ...this.filter, probes: (e.target as HTMLInputElement).checked };
            this.render();
          },
        }),
        "Grader probes",
      ),
      h(
        "label",
        {},
        "Destination",
        h("input", {
          id: "flow-dest",
          type: "search",
          placeholder: "e.g. example.com or :443",
          oninput: set("destination"),
        }),
      ),
      this.status,
    );
    this.map = h("div", {
      class: "egress-map",
      id: "egress-map",
      "aria-label": "Egress map: workloads to destinations",
    });
    this.tbody = h("tbody");
    const table = h(
      "table",
      { class: "flow-table", id: "flow-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Last seen", "Source", "Destination", "Port", "Action", "Staged", "Policy", "Packets"].map(
            (t) =>
              h(
                "th",
                {
                  scope: "col",
                  title:
                    t === "Staged"
                      ? "What the staged policies would do to this flow if they were enforced (pending verdict)"
                      : undefined,
                },
                t,
              ),
          ),
        ),
      ),
      this.tbody,
    );
    el.append(
      filters,
      h(
        "div",
        { class: "flow-body" },
        h("section", { class: "map-wrap" }, h("h3", {}, "Egress map"), this.map),
        h("section", { class: "table-wrap" }, table),
      ),
    );

    socket.on("flows:snapshot", (rows) => {
      this.flows.clear();
      mergeFlows(this.flows, [...rows].reverse());
      this.status.textContent = `${this.flows.size} flows · live`;
      this.schedule();
    });
    socket.on("flows:update", (rows) => {
      mergeFlows(this.flows, rows);
      this.status.textContent = `${this.flows.size} flows · live`;
      this.schedule();
    });
    socket.on("flows:error", (e) => {
      this.status.textContent = e.message;
    });
    socket.on("connect", () => socket.emit("flows:subscribe", {}));
    if (socket.connected) socket.emit("flows:subscribe", {});
  }

  /** Renders on the next frame, at most once per frame, and only while the pane is shown. */
  private schedule(): void {
    if (this.renderScheduled || !this.visible) return;
    this.renderScheduled = true;
    requestAnimationFrame(() => {
      this.renderScheduled = false;
      this.render();
    });
  }

  /** The learner opened another stage: the "since this stage" window starts now. */
  stageOpened(at = Date.now()): void {
    this.stageStart = at;
    if (this.filter.window === "stage") this.schedule();
  }

  show(on: boolean): void {
    this.visible = on;
    if (on) this.render();
  }

  private render(): void {
    const all = [...this.flows.values()].reverse();
    this.updateNamespaces(all);
    const since = windowStart(this.filter.window as FlowWindow, Date.now(), this.stageStart);
    const rows = all.filter((f) => matches(f, this.filter, since));
    clear(this.tbody);
    for (const f of rows.slice(0, maxRows)) {
      this.tbody.append(
        h(
          "tr",
          { class: `flow-${f.action}${f.probe ? " flow-probe" : ""}` },
          h("td", { class: "time" }, new Date(f.lastSeen).toLocaleTimeString()),
          h(
            "td",
            f.probe
              ? { title: "the workshop's grader made this flow from its probe pod, not your workload" }
              : {},
            f.probe ? h("span", { class: "badge badge-probe" }, "probe") : "",
            `${f.sourceNamespace}/${f.sourceName}`,
          ),
          h(
            "td",
            {},
            f.destType === "domain" || f.destNamespace === "-"
              ? f.destName
              : `${f.destNamespace}/${f.destName}`,
          ),
          h("td", {}, `${f.destPort}/${f.proto}`),
          h("td", {}, h("span", { class: `badge badge-${f.action}` }, f.action)),
          h(
            "td",
            {
              class: `pending${f.pendingAction && f.pendingAction !== f.action ? " differs" : ""}`,
              title: (f.pending ?? []).join("\n") || "no staged policy applies",
            },
            f.pendingAction
              ? h("span", { class: `badge badge-${f.pendingAction} badge-staged` }, f.pendingAction)
              : "",
          ),
          h("td", { class: "policy", title: f.policies.join("\n") }, f.policies[0] ?? ""),
          h("td", { class: "num" }, f.packets ?? f.connections),
        ),
      );
    }
    if (rows.length === 0)
      this.tbody.append(
        h(
          "tr",
          {},
          h(
            "td",
            { colspan: 8, class: "empty" },
            this.flows.size ? "No flows match the filters and the window." : "No flows yet.",
          ),
        ),
      );
    this.renderMap(rows);
  }

  private updateNamespaces(all: FlowView[]): void {
    const have = new Set(Array.from(this.nsSelect.options).map((o) => o.value));
    for (const ns of [...new Set(all.map((f) => f.sourceNamespace))].sort())
      if (!have.has(ns)) this.nsSelect.append(h("option", { value: ns }, ns));
  }

  private renderMap(rows: FlowView[]): void {
    const edges = egressEdges(rows).slice(0, 80);
    clear(this.map);
    if (edges.length === 0) {
      this.map.append(h("p", { class: "empty" }, "Workloads and where they connect to appear here."));
      return;
    }
    const sources = [...new Set(edges.map((e) => e.source))];
    const dests = [...new Set(edges.map((e) => e.dest))].sort(
      (a, b) => Number(a.includes("/")) - Number(b.includes("/")) || a.localeCompare(b),
    );
    const rowH = 26;
    const height = Math.max(sources.length, dests.length) * rowH + 16;
    const width = 640;
    const xs = 200;
    const xd = width - 220;
    const ys = (i: number, n: number): number => (height - n * rowH) / 2 + rowH / 2 + i * rowH;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", height, role: "img" });
    const sy = new Map(sources.map((s, i) => [s, ys(i, sources.length)]));
    const dy = new Map(dests.map((d, i) => [d, ys(i, dests.length)]));
    const time = (iso: string): string => new Date(iso).toLocaleTimeString();
    for (const e of edges) {
      const y1 = sy.get(e.source)!;
      const y2 = dy.get(e.dest)!;
      const d = `M ${xs} ${y1} C ${(xs + xd) / 2} ${y1}, ${(xs + xd) / 2} ${y2}, ${xd} ${y2}`;
      const cls = `edge ${e.verdict === "deny" ? "denied" : "allowed"}${e.previous ? " changed" : ""}${
        e.pending === "deny" && e.verdict === "allow" ? " staged-deny" : ""
      }`;
      const now = e.verdict === "deny" ? "denied" : "allowed";
      const was = e.previous
        ? `; ${e.previous.verdict === "deny" ? "denied" : "allowed"} before (last at ${time(e.previous.lastSeen)})`
        : "";
      const staged = e.pending ? `; staged policies would ${e.pending}` : "";
      root.append(
        svg(
          "path",
          { d, class: cls, "stroke-width": 2.5, "data-verdict": e.verdict },
          svg(
            "title",
            {},
            `${e.source} → ${e.dest}: ${now} now (last at ${time(e.lastSeen)})${was}${staged}`,
          ),
        ),
      );
    }
    for (const s of sources)
      root.append(
        svg("circle", { cx: xs, cy: sy.get(s)!, r: 4, class: "node-src" }),
        svg("text", { x: xs - 10, y: sy.get(s)! + 4, "text-anchor": "end", class: "label" }, s),
      );
    for (const d of dests) {
      const ext = !d.includes("/");
      root.append(
        svg("circle", { cx: xd, cy: dy.get(d)!, r: 4, class: ext ? "node-ext" : "node-int" }),
        svg("text", { x: xd + 10, y: dy.get(d)! + 4, class: "label" }, d),
      );
    }
    this.map.append(
      root,
      h(
        "div",
        { class: "legend" },
        h("span", { class: "lg allowed" }, "allowed now"),
        h("span", { class: "lg denied" }, "denied now"),
        h("span", { class: "lg changed" }, "verdict changed in the window"),
        h("span", { class: "lg staged-deny" }, "a staged policy would deny it"),
      ),
      h(
        "p",
        { class: "legend-note" },
        "Destinations outside the cluster show their domain; without one, ",
        h("code", {}, "pub"),
        " is an address on the internet and ",
        h("code", {}, "pvt"),
        " a private (RFC 1918) address outside the cluster. Each line shows what its latest flow got: what the cluster does now. Only the chosen window's flows are drawn; the grader's probes never are.",
      ),
    );
  }
}
