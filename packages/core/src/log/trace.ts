/**
 * Phase timings for performance work, printed on stderr when `STEPWISE_TRACE=1` (as ESLint's
 * `TIMING=1`): `trace("site loaded")` prints the milliseconds since the process started.
 * Off, it is an empty function.
 */
export const trace: (label: string) => void =
  process.env.STEPWISE_TRACE === "1" ? (label) => process.stderr.write(`trace ${performance.now().toFixed(1).padStart(7)} ms  ${label}\n`) : () => {};
