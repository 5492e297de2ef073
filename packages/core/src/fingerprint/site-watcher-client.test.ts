import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { environmentKey } from "../cache/plan-memo.js";
import { askSiteWatcher, refuseSiteWatcher, WATCH_MIN_INDEX_BYTES, wantsSiteWatcher, watcherSocketPath } from "./site-watcher-client.js";

let site: string;
const servers: net.Server[] = [];
const connections = new Set<net.Socket>();

/** Closes the last stand-in watcher, dropping a connection it never answered. */
function closeLast(): Promise<unknown> {
  for (const socket of connections) socket.destroy();
  connections.clear();
  return new Promise((resolve) => servers.pop()!.close(resolve));
}

beforeEach(() => {
  site = mkdtempSync(path.join(os.tmpdir(), "stepwise-watch-client-"));
  mkdirSync(path.join(site, ".stepwise", "cache"), { recursive: true });
});

afterEach(async () => {
  vi.unstubAllEnvs();
  while (servers.length > 0) await closeLast();
  rmSync(site, { recursive: true, force: true });
});

/** A stand-in watcher that answers each question with `reply(question)` (or never, for undefined). */
async function fakeWatcher(reply: (question: string) => string | undefined): Promise<string[]> {
  const questions: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (!text.includes("\n")) return;
      questions.push(text);
      const answer = reply(text);
      if (answer !== undefined) socket.end(answer);
    });
    socket.on("error", () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(watcherSocketPath(site), resolve));
  return questions;
}

const clean = { protocol: 1, clean: true, pid: 1, prefix: "", index: "ab".repeat(20), settings: "12 0123456789abcd", modified: "src/a.js\0", untracked: "new/\0" };

describe.skipIf(process.platform !== "linux")("askSiteWatcher", () => {
  it("takes a clean answer, and asks with its protocol and environment", async () => {
    const questions = await fakeWatcher(() => JSON.stringify(clean));
    expect(await askSiteWatcher(site)).toEqual({ state: "clean", answer: { prefix: "", index: clean.index, settings: clean.settings, modified: "src/a.js\0", untracked: "new/\0" } });
    expect(JSON.parse(questions[0]!)).toEqual({ protocol: 1, environment: environmentKey() });
  });

  it("tells a refusal from no watcher, and a damaged or partial answer from an answer", async () => {
    await fakeWatcher((question) => (question.includes('"protocol":1') ? JSON.stringify({ protocol: 1, clean: false, pid: 1, reason: "watching for another environment" }) : undefined));
    expect(await askSiteWatcher(site)).toEqual({ state: "refused" });
    await closeLast();
    for (const reply of ["{not json", JSON.stringify({ ...clean, modified: 3 }), JSON.stringify({ ...clean, settings: undefined }), JSON.stringify({ ...clean, protocol: 2 }), ""]) {
      rmSync(watcherSocketPath(site), { force: true });
      await fakeWatcher(() => reply);
      expect(await askSiteWatcher(site)).toEqual({ state: "none" });
      await closeLast();
    }
  });

  it("gives up on a watcher that does not answer, and never throws for what is in the socket's place", async () => {
    await fakeWatcher(() => undefined);
    const started = Date.now();
    expect(await askSiteWatcher(site)).toEqual({ state: "none" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150); // it waited for an answer (200 ms), and then gave up
    await closeLast();
    for (const make of [() => writeFileSync(watcherSocketPath(site), "x"), () => mkdirSync(watcherSocketPath(site))]) {
      rmSync(watcherSocketPath(site), { recursive: true, force: true });
      make();
      expect(await askSiteWatcher(site)).toEqual({ state: "none" });
    }
  });

  it("does not ask with STEPWISE_WATCH=0", async () => {
    const questions = await fakeWatcher(() => JSON.stringify(clean));
    vi.stubEnv("STEPWISE_WATCH", "0");
    expect(await askSiteWatcher(site)).toEqual({ state: "none" });
    expect(questions).toEqual([]);
  });
});

describe.skipIf(process.platform !== "linux")("wantsSiteWatcher", () => {
  it("wants one for a large index outside CI, any index with STEPWISE_WATCH=1, none with =0 or after a refusal", () => {
    const index = path.join(site, "index");
    writeFileSync(index, Buffer.alloc(WATCH_MIN_INDEX_BYTES - 1));
    vi.stubEnv("STEPWISE_WATCH", undefined);
    vi.stubEnv("CI", undefined);
    expect(wantsSiteWatcher(site, index)).toBe(false); // small
    expect(wantsSiteWatcher(site, undefined)).toBe(false); // not in git
    vi.stubEnv("STEPWISE_WATCH", "1");
    expect(wantsSiteWatcher(site, index)).toBe(true);
    vi.stubEnv("STEPWISE_WATCH", undefined);
    writeFileSync(index, Buffer.alloc(WATCH_MIN_INDEX_BYTES));
    expect(wantsSiteWatcher(site, index)).toBe(true);
    vi.stubEnv("CI", "true");
    expect(wantsSiteWatcher(site, index)).toBe(false);
    vi.stubEnv("CI", undefined);
    vi.stubEnv("STEPWISE_WATCH", "0");
    expect(wantsSiteWatcher(site, index)).toBe(false);
    vi.stubEnv("STEPWISE_WATCH", "1");

    // A refusal holds for an hour, then a watcher may try again.
    refuseSiteWatcher(site, "too many directories");
    expect(wantsSiteWatcher(site, index)).toBe(false);
    const refusal = path.join(site, ".stepwise", "cache", "watch-refused");
    const past = new Date(Date.now() - 3700_000);
    utimesSync(refusal, past, past);
    expect(wantsSiteWatcher(site, index)).toBe(true);
  });

  it("wants none where the socket's path would not fit in sockaddr_un", () => {
    vi.stubEnv("STEPWISE_WATCH", "1");
    const deep = path.join(site, "d".repeat(80));
    expect(wantsSiteWatcher(deep, path.join(site, "index"))).toBe(false);
  });
});
