import { describe, expect, it } from "vitest";
import { scanArgs } from "./args.js";

describe("scanArgs", () => {
  it("finds the command past the global options and their values, and the site in any form", () => {
    expect(scanArgs(["-C", "plan", "--set", "deploy=1", "--preset", "dev-mode", "deploy", "--force-step", "web"])).toEqual({ command: "deploy", site: "plan", help: false });
    expect(scanArgs(["plan", "--site=/srv/a", "--site", "/srv/b"])).toEqual({ command: "plan", site: "/srv/b", help: false });
    expect(scanArgs(["--json"])).toEqual({ command: undefined, site: undefined, help: false });
  });

  it("notices help before or after the command, and the help command; a later positional named help is not it", () => {
    expect(scanArgs(["--help", "plan"]).help).toBe(true);
    expect(scanArgs(["plan", "-h"]).help).toBe(true);
    expect(scanArgs(["help", "plan"])).toEqual({ command: "help", site: undefined, help: true });
    expect(scanArgs(["secrets", "set", "help"]).help).toBe(false);
  });
});
