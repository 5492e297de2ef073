import { describe, expect, it } from "vitest";
import { containerfileBases } from "./containerfile-bases.js";

describe("containerfileBases", () => {
  it("finds each FROM image, with build args and ARG defaults replaced", () => {
    const file = `# syntax=docker/dockerfile:1
ARG NODE_IMAGE=docker.io/library/node:22-slim
ARG TAG
FROM \${NODE_IMAGE} AS build
RUN npm ci
FROM --platform=linux/amd64 docker.io/library/debian:\${TAG:-bookworm} \\
  AS runtime
COPY --from=build /app /app
`;
    expect(containerfileBases(file)).toEqual(["docker.io/library/node:22-slim", "docker.io/library/debian:bookworm"]);
    expect(containerfileBases(file, { NODE_IMAGE: "localhost/stepwise/node:latest", TAG: "trixie" })).toEqual([
      "localhost/stepwise/node:latest",
      "docker.io/library/debian:trixie",
    ]);
  });

  it("leaves out scratch, earlier stages and references with an unset variable", () => {
    const file = `FROM alpine:3 AS base
FROM base AS test
FROM scratch
FROM $UNSET_IMAGE
from BASE
`;
    expect(containerfileBases(file)).toEqual(["alpine:3"]);
  });
});
