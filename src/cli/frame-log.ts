// `-v`: a transport that passes every byte through and writes one line per
// frame to stderr, in both directions, with the time since the connection
// opened — what a user needs to see why a call did what it did.
import { decodeHeader, dispatchCodeName, frameTypeName, type FrameHeader } from "../index.ts";
import type { Transport, TransportFactory, TransportHandlers } from "../transport/index.ts";

const PREFACE_BYTES = 8;

/** Splits one direction of a connection into its preface and frames [FRAME-1]. */
class FrameSplitter {
  /** Bytes received and not yet shown, as they arrived. */
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** How many bytes the next preface or frame needs before it can be shown. */
  private needed = PREFACE_BYTES;
  private prefaceSeen = false;
  private stopped = false;
  private readonly emit: (line: string) => void;

  constructor(emit: (line: string) => void) {
    this.emit = emit;
  }

  push(chunk: Uint8Array): void {
    if (this.stopped) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // A large body arrives in many chunks: they are joined only once the frame is complete.
    if (this.buffered < this.needed) return;
    const joined = this.chunks.length === 1 ? this.chunks[0]! : concat(this.chunks, this.buffered);
    let at = 0;
    if (!this.prefaceSeen) {
      const version = (joined[6]! << 8) | joined[7]!;
      this.emit(`preface ${new TextDecoder().decode(joined.subarray(0, 6))} version ${version}`);
      this.prefaceSeen = true;
      at = PREFACE_BYTES;
    }
    this.needed = 4;
    while (joined.length - at >= 4) {
      const headerSize = ((joined[at]! << 24) | (joined[at + 1]! << 16) | (joined[at + 2]! << 8) | joined[at + 3]!) >>> 0;
      if (joined.length - at < 4 + headerSize) {
        this.needed = 4 + headerSize;
        break;
      }
      let header: FrameHeader;
      try {
        header = decodeHeader(joined, at + 4, at + 4 + headerSize);
      } catch (error) {
        this.emit(`undecodable frame header (${(error as Error).message}); not showing the rest`);
        this.stopped = true;
        this.chunks = [];
        return;
      }
      const end = at + 4 + headerSize + header.bodySize;
      if (joined.length < end) {
        this.needed = end - at;
        break;
      }
      this.emit(describeFrame(header));
      at = end;
      this.needed = 4;
    }
    // A copy: the transport may reuse the chunk's memory once data() returns.
    const rest = joined.slice(at);
    this.chunks = rest.length === 0 ? [] : [rest];
    this.buffered = rest.length;
  }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** One line about a frame: its type, id, and the fields that type uses. */
function describeFrame(header: FrameHeader): string {
  const parts = [frameTypeName(header.type), `id=${header.requestId}`];
  if (header.service !== "") parts.push(`${header.service}/${header.method}`);
  if (header.methodRef !== 0) parts.push(`ref=${header.methodRef}`);
  if (header.callMode !== 0) parts.push(`mode=${header.callMode}`);
  if (header.timeoutMs !== undefined) parts.push(`timeout=${header.timeoutMs}ms`);
  if (header.keys.length > 0) parts.push(`keys=${JSON.stringify(header.keys)}`);
  if (header.metadata.length > 0) parts.push(`metadata=${header.metadata.map((m) => m.key).join(",")}`);
  if (header.compression !== 0) parts.push(`compression=${header.compression}`);
  if (header.dispatchCode !== 0) parts.push(`dispatch=${dispatchCodeName(header.dispatchCode)}${header.dispatchMessage ? ` "${header.dispatchMessage}"` : ""}`);
  if (header.appCode !== 0) parts.push(`app=${header.appCode}${header.appMessage ? ` "${header.appMessage}"` : ""}`);
  parts.push(`body=${header.bodySize}B`);
  return parts.join(" ");
}

/** `inner`, with every frame it carries logged through `log` ("> " sent, "< " received) [FRAME-1]. */
export function loggingTransport(inner: TransportFactory, log: (line: string) => void): TransportFactory {
  return {
    async connect(address, options) {
      const opened = performance.now();
      const stamp = (arrow: string) => (line: string) => log(`${(performance.now() - opened).toFixed(1).padStart(8)} ms ${arrow} ${line}`);
      log(`connecting to ${address}`);
      const transport = await inner.connect(address, options);
      stamp("·")(`connected to ${transport.info.peer}`);
      const sent = new FrameSplitter(stamp(">"));
      const received = new FrameSplitter(stamp("<"));
      const logged: Transport = {
        info: transport.info,
        get bufferedAmount() {
          return transport.bufferedAmount;
        },
        write(bytes) {
          sent.push(bytes);
          return transport.write(bytes);
        },
        start(handlers: TransportHandlers) {
          transport.start({
            ...handlers,
            data(chunk) {
              received.push(chunk);
              handlers.data(chunk);
            },
            closed(error) {
              stamp("·")(`closed${error === undefined ? "" : `: ${error.message}`}`);
              handlers.closed(error);
            },
          });
        },
        end: () => transport.end(),
        destroy: () => transport.destroy(),
      };
      if (transport.pause !== undefined) logged.pause = () => transport.pause!();
      if (transport.resume !== undefined) logged.resume = () => transport.resume!();
      if (transport.ref !== undefined) logged.ref = () => transport.ref!();
      if (transport.unref !== undefined) logged.unref = () => transport.unref!();
      return logged;
    },
    listen: (address, options, accept) => inner.listen(address, options, accept),
  };
}
