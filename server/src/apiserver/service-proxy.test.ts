import { describe, expect, it } from "vitest";
import { splitSchemeNamePort } from "./service-proxy.ts";

// Cases of Go's k8s.io/apimachinery/pkg/util/net SplitSchemeNamePort.
describe("splitSchemeNamePort", () => {
  it.each([
    { id: "whisker", want: { scheme: "", name: "whisker", port: "" } },
    { id: "whisker:8081", want: { scheme: "", name: "whisker", port: "8081" } },
    { id: "whisker:http", want: { scheme: "", name: "whisker", port: "http" } },
    { id: "https:whisker:8443", want: { scheme: "https", name: "whisker", port: "8443" } },
    { id: "http:whisker:", want: { scheme: "http", name: "whisker", port: "" } },
    { id: ":whisker:8081", want: { scheme: "", name: "whisker", port: "8081" } },
    { id: "ftp:whisker:21", want: undefined },
    { id: ":8081", want: undefined },
    { id: "a:b:c:d", want: undefined },
    { id: "", want: undefined },
  ])("$id", ({ id, want }) => {
    expect(splitSchemeNamePort(id)).toEqual(want);
  });
});
