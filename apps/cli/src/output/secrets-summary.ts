/** `2/3 secrets provided`, or that there is nothing to provide (not a puzzling `0/0`). */
export function providedSecretsSummary(set: number, total: number): string {
  return total === 0 ? "no secret to provide" : `${set}/${total} secrets provided`;
}
