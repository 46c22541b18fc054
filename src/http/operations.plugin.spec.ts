import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "graphql";
import { describe, expect, it } from "vitest";
import { KNOWN_OPERATIONS, operationLabel, operationTypeLabel } from "./operations.plugin";

const dir = path.join(__dirname, "../../client/operations");

describe("operation metric labels", () => {
  it("every operation of the typed client has its own label", () => {
    const names = readdirSync(dir)
      .filter((f) => f.endsWith(".graphql"))
      .flatMap((f) => parse(readFileSync(path.join(dir, f), "utf8")).definitions)
      .flatMap((d) => (d.kind === "OperationDefinition" && d.name ? [d.name.value] : []));
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !KNOWN_OPERATIONS.has(n))).toEqual([]);
    for (const n of names) expect(operationLabel(n)).toBe(n);
  });

  it("unknown names fold into one value; the type label is bounded too", () => {
    expect(operationLabel("MyDashboard")).toBe("other");
    expect(operationLabel(`x${"y".repeat(500)}`)).toBe("other");
    expect(operationLabel(undefined)).toBe("anonymous");
    expect(operationLabel("IntrospectionQuery")).toBe("IntrospectionQuery");
    expect(operationTypeLabel("subscription")).toBe("subscription");
    expect(operationTypeLabel("weird")).toBe("unknown");
  });
});
