// A deterministic 64-bit FNV-1a hash (two 32-bit halves) as 16 hex digits: stable references and
// fingerprints in workflow code, where no crypto module is available and none is needed.
export function fnv64Hex(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0;
  }
  return `${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`;
}

/**
 * A short stand-in for a value (a property value, a note body): the convergence check compares what
 * HubSpot holds with what this system wrote without carrying the values themselves.
 */
export function valueHash(value: string): string {
  return `${fnv64Hex(value)}:${value.length}`;
}
