/** Turns offsets in a text into 1-based line and column as an editor shows them. */
export class SourcePositions {
  private readonly lineStarts: number[] = [0];

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  at(offset: number): { line: number; col: number } {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    // Count characters, not UTF-16 units, so a line with an emoji still lines up with the editor.
    const col = [...this.text.slice(this.lineStarts[lo]!, o)].length + 1;
    return { line: lo + 1, col };
  }
}
