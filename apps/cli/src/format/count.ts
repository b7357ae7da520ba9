/** A count with its noun, singular for exactly one: "1 symlink", "2 symlinks", "0 errors". */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
