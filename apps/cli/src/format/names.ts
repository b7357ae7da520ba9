const strict = new TextDecoder("utf-8", { fatal: true });

/** Decodes a name if it is valid UTF-8, else null. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * A name for a terminal: valid UTF-8 shown as is, except control characters and
 * backslashes, which are escaped (\n, \xHH); invalid bytes as \xHH.
 */
export function displayName(bytes: Uint8Array): string {
  const text = utf8OrNull(bytes);
  if (text !== null && !/[\x00-\x1f\x7f\\]/.test(text)) return text;
  if (text !== null) {
    return text.replace(/[\x00-\x1f\x7f\\]/g, (c) =>
      c === "\n" ? "\\n" : c === "\t" ? "\\t" : c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
    );
  }
  let out = "";
  for (const b of bytes) {
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** A name in JSON output: a string when valid UTF-8, else {"b64": ...} (the corpus manifests' convention). */
export function jsonName(bytes: Uint8Array): string | { b64: string } {
  const text = utf8OrNull(bytes);
  return text !== null ? text : { b64: Buffer.from(bytes).toString("base64") };
}

export function joinPath(parent: Uint8Array, name: Uint8Array): Uint8Array {
  if (parent.length === 0) return name;
  // A parent given as "/" (or "dir/") has its separator already.
  const slash = parent[parent.length - 1] === 0x2f ? 0 : 1;
  const out = new Uint8Array(parent.length + slash + name.length);
  out.set(parent);
  if (slash) out[parent.length] = 0x2f;
  out.set(name, parent.length + slash);
  return out;
}
