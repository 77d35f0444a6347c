/**
 * A bounded record of a terminal's output, addressed by character offset, so a reconnecting page gets exactly what
 * it missed. Old output is dropped whole-chunk first once the total passes `maxChars`.
 */
export interface Replay {
  /** Set when the asked-for offset is older than what is kept: the page must clear before writing `data`. */
  reset: boolean;
  data: string;
  /** Offset just past `data` (the current end). */
  end: number;
}

export class Scrollback {
  private chunks: string[] = [];
  private kept = 0;
  /** Offset of the first character still kept. */
  private startOffset = 0;
  private endOffset = 0;
  /** Offsets that no page of this process was sent: (end of the restored output, first own output). */
  private unknown: { after: number; before: number } | undefined;
  /** End of the output restored at start, if any. */
  private readonly restoredEnd: number | undefined;

  /** `initial`: output kept from before (a restart), continuing its offsets. */
  constructor(
    private readonly maxChars: number,
    initial?: { start: number; data: string },
  ) {
    if (initial) {
      this.startOffset = initial.start;
      this.endOffset = initial.start;
      this.push(initial.data);
      this.restoredEnd = this.endOffset;
    }
  }

  /**
   * Marks the offsets after the restored output and before `offset` as unknown here: an earlier process may have sent
   * output there that it never saved, so a page claiming one of them gets the whole scrollback again.
   */
  unknownBefore(offset: number): void {
    if (this.restoredEnd !== undefined && offset > this.restoredEnd)
      this.unknown = { after: this.restoredEnd, before: offset };
  }

  /** Appends output; returns the new end offset. */
  push(data: string): number {
    if (!data) return this.endOffset;
    this.chunks.push(data);
    this.kept += data.length;
    this.endOffset += data.length;
    while (this.kept > this.maxChars && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.kept - this.maxChars;
      if (first.length <= excess) {
        this.chunks.shift();
        this.kept -= first.length;
        this.startOffset += first.length;
      } else {
        this.chunks[0] = first.slice(excess);
        this.kept -= excess;
        this.startOffset += excess;
      }
    }
    return this.endOffset;
  }

  get end(): number {
    return this.endOffset;
  }

  get start(): number {
    return this.startOffset;
  }

  /** What comes after `since` (undefined = everything kept). An offset in the future is treated as a fresh page. */
  since(since: number | undefined): Replay {
    const all = this.chunks.join("");
    if (since === undefined) return { reset: false, data: all, end: this.endOffset };
    const unknown = this.unknown && since > this.unknown.after && since < this.unknown.before;
    if (since < this.startOffset || since > this.endOffset || unknown)
      return { reset: true, data: all, end: this.endOffset };
    return { reset: false, data: all.slice(since - this.startOffset), end: this.endOffset };
  }
}
