/**
 * Concatenated JSON values, as `(kubectl get svc web -o json; kubectl get endpointslices -o json)` prints
 * them: one value after another, separated by whitespace or nothing. Split on the top-level boundaries
 * (strings and escapes respected), so each value parses on its own and an error can name which one.
 */
export interface JsonChunk {
  text: string;
  /** Offset of the chunk in the whole input, to turn JSON.parse's "position N" into a line and column. */
  offset: number;
}

export function splitJsonStream(input: string): JsonChunk[] {
  const chunks: JsonChunk[] = [];
  let i = 0;
  while (i < input.length) {
    while (i < input.length && /\s/.test(input[i] as string)) i++;
    if (i >= input.length) break;
    const start = i;
    i = valueEnd(input, i);
    chunks.push({ text: input.slice(start, i), offset: start });
  }
  return chunks;
}

/** Index just past the value starting at `start`; an unterminated value runs to the end of the input. */
function valueEnd(input: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < input.length; i++) {
    const c = input[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth <= 0) return i + 1;
    } else if (depth === 0 && /\s/.test(c as string)) return i;
  }
  return input.length;
}

/** "line L, column C" (1-based) of an offset. */
export function lineAndColumn(input: string, offset: number): string {
  const before = input.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `line ${line}, column ${column}`;
}
