// Splits a byte stream into length-prefixed frames (4-byte big-endian size,
// then that many bytes), for the raw TCP anchor's server and client. Chunks
// are joined once per frame, not once per chunk, so a 64 KiB frame arriving
// in many reads costs one copy, as in a careful hand-written server.

/** Feeds chunks in; calls `onFrame(frame)` with each whole frame, size prefix included. */
export function lengthPrefixedReader(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  let buffered = 0;
  /** Size of the frame being assembled, prefix included, once known. */
  let needed = 0;
  return (chunk) => {
    let data = chunk;
    if (buffered > 0) {
      parts.push(chunk);
      buffered += chunk.length;
      if (needed === 0 && buffered >= 4) needed = 4 + Buffer.concat(parts, 4).readUInt32BE(0);
      if (needed === 0 || buffered < needed) return;
      data = Buffer.concat(parts, buffered);
      parts = [];
      buffered = 0;
      needed = 0;
    }
    let offset = 0;
    while (data.length - offset >= 4) {
      const end = offset + 4 + data.readUInt32BE(offset);
      if (end > data.length) break;
      onFrame(data.subarray(offset, end));
      offset = end;
    }
    if (offset < data.length) {
      const rest = data.subarray(offset);
      parts = [rest];
      buffered = rest.length;
      needed = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 0;
    }
  };
}
