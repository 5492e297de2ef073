// Timing on a shared machine: each command once as a warm-up, then `rounds` rounds in which every
// command runs once, the order rotating, so that a change of load falls on all of them alike.

/** The wall times (ms) of each of `commands` (functions), one list per command. */
export function interleaved(commands, rounds) {
  const times = commands.map(() => []);
  for (const run of commands) run();
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < commands.length; c++) {
      const i = (c + r) % commands.length;
      const start = process.hrtime.bigint();
      commands[i]();
      times[i].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  return times;
}

export const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
