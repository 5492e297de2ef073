import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { demuxLogBuffer } from "./container-ops.js";
import { SiteNames, podmanSafeName } from "./naming.js";
import { redactSecrets } from "@stepwise/core";
import { canonicalJson } from "@stepwise/core";
import { specHash } from "./spec-hash.js";

describe("SiteNames", () => {
  const names = new SiteNames("demo");
  it("names everything stepwise-<site>-...", () => {
    expect(names.network).toBe("stepwise-demo");
    expect(names.container("web")).toBe("stepwise-demo-web");
    expect(names.volume("db-data")).toBe("stepwise-demo-db-data");
    expect(names.builtImage("Web", "0123456789abcdef0123")).toBe("localhost/stepwise-demo/web:0123456789abcdef");
  });

  it("versions a secret by its fingerprint without revealing it, under a stable prefix", () => {
    const a = names.secret("db_password", "fp-1");
    expect(a).toMatch(/^stepwise-demo-secret-db_password-[0-9a-f]{12}$/);
    expect(a.startsWith(names.secretPrefix("db_password"))).toBe(true);
    expect(names.secret("db_password", "fp-2")).not.toBe(a);
    expect(names.secret("db_password", "fp-1")).toBe(a);
  });

  it("labels carry site, resource, kind and spec hash", () => {
    expect(names.labels("web", "service", "h")).toEqual({
      "dev.stepwise.site": "demo",
      "dev.stepwise.resource": "web",
      "dev.stepwise.kind": "service",
      "dev.stepwise.managed-by": "stepwise",
      "dev.stepwise.spec-hash": "h",
    });
  });

  it("makes any name a valid Podman name", () => {
    fc.assert(fc.property(fc.string(), (s) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(podmanSafeName(s))));
  });
});

describe("spec hash", () => {
  it("does not depend on key order and drops undefined members", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        return canonicalJson(obj) === canonicalJson(reversed) && specHash(obj) === specHash(reversed);
      }),
    );
    expect(canonicalJson({ b: 1, a: { d: undefined, c: [2, { z: 1, y: 2 }] } })).toBe('{"a":{"c":[2,{"y":2,"z":1}]},"b":1}');
  });

  it("changes when anything in the spec changes", () => {
    expect(specHash({ env: { A: "1" } })).not.toBe(specHash({ env: { A: "2" } }));
  });
});

describe("redactSecrets (core's, which this target uses for container logs)", () => {
  it("replaces values and their base64 form, longest first", () => {
    const text = `pw=hunter22 again hunter22 b64=${Buffer.from("hunter22").toString("base64")} short=abc`;
    expect(redactSecrets(text, ["hunter22", "abc", undefined])).toBe("pw=[redacted] again [redacted] b64=[redacted] short=abc");
  });
});

describe("demuxLogBuffer", () => {
  it("joins Docker's framed stdout/stderr, and passes unframed text through", () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    expect(demuxLogBuffer(Buffer.concat([frame(1, "out\n"), frame(2, "err\n")]))).toBe("out\nerr\n");
    expect(demuxLogBuffer(Buffer.from("plain tty text"))).toBe("plain tty text");
  });
});
