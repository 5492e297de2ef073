import { describe, expect, it } from "vitest";
import type { StateLock } from "../contracts.js";
import { withRunLock } from "./run-lock.js";

function fakeHolder(renew: () => Promise<void>) {
  const events: string[] = [];
  const lock: StateLock = {
    info: { id: "1", operation: "deploy", pid: 1, host: "h", startedAt: "", expiresAt: "" } as unknown as StateLock["info"],
    renew: async () => {
      events.push("renew");
      await renew();
    },
    release: async () => {
      events.push("release");
    },
  };
  return {
    events,
    holder: {
      lockSite: async (operation: string) => {
        events.push(`lock ${operation}`);
        return lock;
      },
      interrupt: (reason: string) => events.push(`interrupt: ${reason}`),
    },
  };
}

const ticks = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("withRunLock", () => {
  it("renews the lock while the work runs and releases it after", async () => {
    const { holder, events } = fakeHolder(async () => {});
    const result = await withRunLock(holder, "deploy", async (lock) => {
      await ticks(30);
      lock.assertHeld();
      return "ok";
    }, 5);
    expect(result).toBe("ok");
    expect(events[0]).toBe("lock deploy");
    expect(events).toContain("renew");
    expect(events.at(-1)).toBe("release");
    const after = events.length;
    await ticks(20);
    expect(events).toHaveLength(after);
  });

  it("a lost lock interrupts the run and assertHeld throws the renewal's error; the lock is still released", async () => {
    const lost = new Error("lock taken over");
    const { holder, events } = fakeHolder(async () => {
      throw lost;
    });
    const run = withRunLock(holder, "deploy", async (lock) => {
      await ticks(30);
      lock.assertHeld();
      return "not reached";
    }, 5);
    await expect(run).rejects.toBe(lost);
    expect(events).toContain("interrupt: the state lock was lost");
    expect(events.at(-1)).toBe("release");
  });

  it("releases the lock when the work throws", async () => {
    const { holder, events } = fakeHolder(async () => {});
    await expect(withRunLock(holder, "deploy", async () => Promise.reject(new Error("step blew up")))).rejects.toThrow("step blew up");
    expect(events).toEqual(["lock deploy", "release"]);
  });
});
