/**
 * Issue 16 §3: what stepwise writes into stepwise.yaml reads as a person writes YAML. init's
 * starter file, then a person's edits (plugins, their own comments, a flow mapping of their
 * own), then configure --set and an interactive configure in a pseudo-terminal: the file
 * parses, what was written is block style, every comment is still there.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadSite } from "@stepwise/core/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliBin, runCli } from "./cli-harness.js";
import { assertBuilt, makeComponentSite } from "../fixtures/component-site.js";
import { TmuxPane, ensureTmux, startCliInPane, terminalEnv } from "../fixtures/tmux-pane.js";

let tmuxProblem: string | undefined;
let pane: TmuxPane | undefined;
let dir: string;
beforeAll(() => {
  assertBuilt();
  tmuxProblem = ensureTmux();
  if (!tmuxProblem) pane = new TmuxPane(terminalEnv());
});
afterAll(() => {
  pane?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const comments = (text: string) => text.split("\n").flatMap((line) => (line.includes("#") ? [line.slice(line.indexOf("#")).trim()] : []));

/** The lines that hold a flow collection (`{ ... }` or `[ ... ]` outside a comment). */
const flowLines = (text: string) => text.split("\n").filter((line) => /[{[]/.test(line.replace(/#.*$/, "")));

describe("stepwise.yaml as a person writes it", () => {
  it("init, a person's edits, configure --set, then configure in a terminal: block style, every comment kept", async (ctx) => {
    if (tmuxProblem) ctx.skip(tmuxProblem);
    dir = makeComponentSite({ yaml: "" });
    rmSync(path.join(dir, "stepwise.yaml"));
    expect((await runCli(["init", "--name", "yaml-site"], { cwd: dir })).code).toBe(0);
    const initial = readFileSync(path.join(dir, "stepwise.yaml"), "utf8");
    expect(initial).not.toContain("{}");

    // The person lists the plugins as the comments say, with comments and a flow mapping of their own.
    const edited = initial
      .replace('  # - "@stepwise/target-podman"\n', '  - stepwise-target-recorder # the test target\n  - "@stepwise/step-email"\n')
      .replace('  # - "@stepwise/step-database"', '  - "@stepwise/step-database"')
      .replace(/^# target: podman$/m, "target: recorder # where it runs")
      .replace(/^services:\n/m, "services:\n  web: { image: docker.io/library/nginx:1.27 } # my flow mapping\n");
    expect(edited).not.toBe(initial);
    writeFileSync(path.join(dir, "stepwise.yaml"), edited);

    // Non-interactive: --set values are recorded (the rest is listed as missing, exit 2).
    const set = await runCli(["configure", "--set", "database.name=shop", "--set", "email.provider=smtp"], { cwd: dir });
    expect(set.stderr).not.toContain("internal error");
    expect(loadSite(dir).config.get("database.name")?.value).toBe("shop");

    // Interactive: two answers, then Ctrl-C; each answer is written at once.
    const run = startCliInPane(pane!, dir, cliBin, ["configure"]);
    // The --set run counts as a session that stopped with questions left: continue it.
    await pane!.waitFor(run.session, /Continue where it stopped/);
    pane!.keys(run.session, "Enter");
    await pane!.waitFor(run.session, /◆\s+Sender address/);
    pane!.type(run.session, "ops@example.com");
    pane!.keys(run.session, "Enter");
    await pane!.waitFor(run.session, /◆\s+SMTP host/);
    pane!.type(run.session, "mail.example.com");
    pane!.keys(run.session, "Enter");
    await pane!.waitFor(run.session, /◆\s+SMTP port/);
    pane!.keys(run.session, "C-c");
    expect(await run.exitCode()).toBe(130);

    const written = readFileSync(path.join(dir, "stepwise.yaml"), "utf8");
    const site = loadSite(dir);
    expect(Object.fromEntries([...site.config].map(([k, v]) => [k, v.value]))).toEqual({
      "database.name": "shop",
      "email.provider": "smtp",
      "email.from": "ops@example.com",
      "email.smtp.host": "mail.example.com",
    });
    for (const comment of comments(edited)) expect(written, `comment kept: ${comment}`).toContain(comment);
    // Block style everywhere stepwise wrote; the person's own flow mapping as they wrote it.
    expect(flowLines(written)).toEqual(["  web: { image: docker.io/library/nginx:1.27 } # my flow mapping"]);
    expect(written).toMatchSnapshot();
  });
});
