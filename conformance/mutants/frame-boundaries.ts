// Where the frames of a client's byte stream begin and end, for mutants
// that change *when* bytes reach the server rather than what they say.
// After the 8-byte preface, each frame's header is gathered whole (so its
// type is known), then its body bytes are reported as they arrive. Bytes
// that stop parsing as frames are passed on raw.

import { decodeHeader, PREFACE_SIZE } from "../../src/wire/index.ts";

/** What a FrameBoundaries reports. */
export interface BoundaryEvents {
  /** Bytes of the stream in order; `type` is the frame's type, or undefined for the preface and raw bytes. */
  bytes(bytes: Uint8Array, type: number | undefined): void;
  /** The last byte of a frame of `type` has been reported. */
  frameEnd(type: number): void;
}

/** Splits a client byte stream into preface, frame headers and bodies. */
export class FrameBoundaries {
  private prefaceLeft = PREFACE_SIZE;
  private header: number[] = [];
  private headerSize: number | undefined;
  private type: number | undefined;
  private bodyLeft = 0;
  private raw = false;
  private readonly events: BoundaryEvents;

  constructor(events: BoundaryEvents) {
    this.events = events;
  }

  push(chunk: Uint8Array): void {
    let pos = 0;
    if (this.prefaceLeft > 0) {
      const take = Math.min(this.prefaceLeft, chunk.length);
      this.events.bytes(chunk.subarray(0, take), undefined);
      this.prefaceLeft -= take;
      pos = take;
    }
    while (pos < chunk.length) {
      if (this.raw) {
        this.events.bytes(chunk.subarray(pos), undefined);
        return;
      }
      if (this.type !== undefined) {
        const take = Math.min(this.bodyLeft, chunk.length - pos);
        this.events.bytes(chunk.subarray(pos, pos + take), this.type);
        this.bodyLeft -= take;
        pos += take;
        if (this.bodyLeft === 0) this.endFrame();
        continue;
      }
      this.header.push(chunk[pos++]!);
      if (this.headerSize === undefined && this.header.length === 4) {
        const [a, b, c, d] = this.header as [number, number, number, number];
        this.headerSize = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
      }
      if (this.headerSize === undefined || this.header.length < 4 + this.headerSize) continue;
      const bytes = Uint8Array.from(this.header);
      try {
        const decoded = decodeHeader(bytes, 4, bytes.length);
        this.type = decoded.type;
        this.bodyLeft = decoded.bodySize;
      } catch {
        this.raw = true;
        this.events.bytes(bytes, undefined);
        continue;
      }
      this.header = [];
      this.headerSize = undefined;
      this.events.bytes(bytes, this.type);
      if (this.bodyLeft === 0) this.endFrame();
    }
  }

  private endFrame(): void {
    const type = this.type!;
    this.type = undefined;
    this.events.frameEnd(type);
  }
}
