/**
 * Whether a dirent name can become one path component on the host: never empty, "." or
 * "..", never containing "/" or NUL. Anything else (newlines, invalid UTF-8) is a legal
 * Linux file name and is kept byte for byte.
 */
export function isSafeComponent(name: Uint8Array): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (name.length === 1 && name[0] === 0x2e) return false;
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return false;
  for (const b of name) if (b === 0x2f || b === 0) return false;
  return true;
}
