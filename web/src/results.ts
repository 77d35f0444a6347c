/**
 * The results page: the room's progress over time as a chart (how many had passed each stage, minute by minute), the
 * per-stage summary (started, passed, median time, the most common mistakes and failing checks) and every attendee's
 * stages; downloads as CSV and JSON, and a layout that prints.
 */
import type { WorkshopResults } from "../../server/src/instructor/results.ts";
import { h, svg, toast } from "./dom.ts";
import type { InstructorApi } from "./seat.ts";

const colours = ["#0b5cad", "#17804a", "#9a6700", "#b42318", "#6941c6", "#0e7490", "#c2410c"];

/** The chart: one step line per stage, x = time, y = attendees who had passed it. */
export function progressChart(r: WorkshopResults, width = 760, height = 280): SVGSVGElement {
  const pad = { left: 44, right: 150, top: 16, bottom: 34 };
  const t = r.timeline.map((p) => Date.parse(p.at));
  const t0 = Math.min(...t);
  const t1 = Math.max(...t, t0 + 60_000);
  const n = Math.max(1, r.attendees.length);
  const x = (ms: number) => pad.left + ((ms - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / n) * (height - pad.top - pad.bottom);
  const el = svg("svg", {
    class: "progress-chart",
    id: "progress-chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "How many attendees had passed each stage over time",
  });
  const axis = (x1: number, y1: number, x2: number, y2: number) =>
    svg("line", { x1, y1, x2, y2, stroke: "#9aa8b6", "stroke-width": 1 });
  el.append(axis(pad.left, y(0), width - pad.right, y(0)), axis(pad.left, y(0), pad.left, y(n)));
  for (const v of [0, Math.round(n / 2), n])
    el.append(
      svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11 }, String(v)),
    );
  for (const ms of [t0, (t0 + t1) / 2, t1])
    el.append(
      svg(
        "text",
        { x: x(ms), y: height - pad.bottom + 16, "text-anchor": "middle", "font-size": 11 },
        new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
      ),
    );
  r.stages.forEach((s, i) => {
    let d = "";
    let prev: number | undefined;
    for (const p of r.timeline) {
      const px = x(Date.parse(p.at));
      const v = p.passed[i] ?? 0;
      d += prev === undefined ? `M${px},${y(v)}` : `H${px}V${y(v)}`;
      prev = v;
    }
    const colour = colours[i % colours.length]!;
    el.append(
      svg("path", { d, fill: "none", stroke: colour, "stroke-width": 2, "data-stage": s.index }),
      svg(
        "text",
        { x: width - pad.right + 8, y: pad.top + 14 + i * 16, "font-size": 11, fill: colour },
        `${s.index} · ${s.title.slice(0, 22)} (${r.timeline.at(-1)?.passed[i] ?? 0})`,
      ),
    );
  });
  return el;
}

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function showResults(
  root: HTMLElement,
  api: InstructorApi,
  text: (path: string) => Promise<string>,
  back: () => void,
): Promise<void> {
  let r: WorkshopResults;
  try {
    r = await api<WorkshopResults>("GET", "/api/instructor/results.json");
  } catch (err) {
    toast(err instanceof Error ? err.message : String(err), "error");
    return;
  }
  const date = r.generatedAt.slice(0, 10);
  const csv = (by: "attendees" | "stages") => async () => {
    try {
      const body = await text(`/api/instructor/results.csv${by === "stages" ? "?by=stage" : ""}`);
      download(`egresslab-${by}-${r.lab.id}-${date}.csv`, "text/csv", body);
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), "error");
    }
  };
  root.replaceChildren(
    h(
      "main",
      { class: "results", id: "results" },
      h(
        "div",
        { class: "results-bar no-print" },
        h("button", { class: "btn", type: "button", onclick: back }, "← Board"),
        h(
          "button",
          { class: "btn", type: "button", id: "export-csv", onclick: csv("attendees") },
          "CSV per attendee",
        ),
        h(
          "button",
          { class: "btn", type: "button", id: "export-stages-csv", onclick: csv("stages") },
          "CSV per stage",
        ),
        h(
          "button",
          {
            class: "btn",
            type: "button",
            id: "export-json",
            onclick: () =>
              download(
                `egresslab-results-${r.lab.id}-${date}.json`,
                "application/json",
                JSON.stringify(r, null, 2),
              ),
          },
          "JSON",
        ),
        h("button", { class: "btn btn-primary", type: "button", onclick: () => window.print() }, "Print"),
      ),
      h("h1", {}, `${r.lab.title} — results`),
      h(
        "p",
        { class: "fine" },
        `${r.attendees.length} attendees · ${new Date(r.generatedAt).toLocaleString()}`,
      ),
      h("h2", {}, "The room's progress"),
      progressChart(r),
      h("h2", {}, "Per stage"),
      h(
        "table",
        { class: "seat-table", id: "results-stages" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...[
              "Stage",
              "Started",
              "Passed",
              "Median time",
              "Checks run",
              "Most common mistakes",
              "Most failed checks",
            ].map((x) => h("th", {}, x)),
          ),
        ),
        h(
          "tbody",
          {},
          ...r.perStage.map((s) =>
            h(
              "tr",
              {},
              h("td", {}, `${s.stage} · ${s.title}`),
              h("td", {}, s.started),
              h("td", {}, s.passed),
              h("td", {}, s.medianMinutes !== undefined ? `${s.medianMinutes} min` : ""),
              h("td", {}, s.attempts),
              h(
                "td",
                {},
                s.mistakes
                  .slice(0, 3)
                  .map((m) => `${m.label} (${m.count})`)
                  .join(", "),
              ),
              h(
                "td",
                {},
                s.failedChecks
                  .slice(0, 3)
                  .map((c) => `${c.title} (${c.count})`)
                  .join(", "),
              ),
            ),
          ),
        ),
      ),
      h("h2", {}, "Attendees"),
      h(
        "table",
        { class: "seat-table", id: "results-attendees" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, "Attendee"), ...r.stages.map((s) => h("th", {}, `${s.index}`))),
        ),
        h(
          "tbody",
          {},
          ...r.attendees.map((a) =>
            h(
              "tr",
              {},
              h("td", {}, a.name),
              ...a.stages.map((s) =>
                h(
                  "td",
                  { class: s.passed ? "pass" : s.startedAt ? "fail" : "" },
                  s.passed ? `✓ ${s.minutes ?? ""} min` : s.startedAt ? `${s.attempts} checks` : "",
                  s.mistakes.length
                    ? h("div", { class: "fine" }, s.mistakes.map((m) => m.label).join(", "))
                    : null,
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
