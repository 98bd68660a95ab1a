// A hand-driven Strata client over any transport (a socket, or memory for
// "memory:" addresses), for tests that must see or send exact frames: it
// does the handshake (or not), writes any bytes, and collects every frame
// and the EOF.
import { transportFor, type Transport } from "../../src/transport/index.ts";
import { SOCKET_TRANSPORTS } from "../../src/node.ts";
import {
  createFrameDecoder,
  DEFAULT_LIMITS,
  encodeFrame,
  encodeHello,
  encodePreface,
  FrameType,
  frameTypeName,
  PREFACE_SIZE,
  type Frame,
  type FrameHeaderInit,
} from "../../src/wire/index.ts";

/** A raw connection to a server under test. */
export class RawPeer {
  readonly frames: Frame[] = [];
  /** Bytes received before the frames: the server's preface (or an HTTP answer). */
  prefix = new Uint8Array(0);
  ended = false;
  private readonly transport: Transport;
  private readonly waiters: Array<() => void> = [];
  private decoderError: unknown;

  private constructor(transport: Transport) {
    this.transport = transport;
    const decoder = createFrameDecoder({
      limits: { maxHeaderSize: DEFAULT_LIMITS.maxHeaderSize, maxBodySize: 64 * 1024 * 1024 },
      onFrame: (frame) => this.frames.push({ header: frame.header, body: frame.body.slice() }),
    });
    const data = (chunk: Uint8Array) => {
      let rest: Uint8Array = chunk;
      if (this.prefix.length < PREFACE_SIZE) {
        const take = Math.min(PREFACE_SIZE - this.prefix.length, rest.length);
        this.prefix = Uint8Array.from([...this.prefix, ...rest.subarray(0, take)]);
        rest = rest.subarray(take);
      }
      try {
        if (rest.length > 0) decoder.push(rest);
      } catch (error) {
        this.decoderError = error;
      }
      this.wake();
    };
    const end = () => {
      this.ended = true;
      this.wake();
    };
    transport.start({ data, closed: end, drain: () => {} });
  }

  /** Connects; with `handshake` (default) sends preface and HELLO and waits for the server's HELLO. */
  static async connect(
    address: string,
    { handshake = true, pingIntervalMs = 60_000, hello = {} }: { handshake?: boolean; pingIntervalMs?: number; hello?: { maxHeaderSize?: number; maxBodySize?: number } } = {},
  ): Promise<RawPeer> {
    const transport = await (await transportFor(address, { transports: SOCKET_TRANSPORTS })).connect(address);
    const peer = new RawPeer(transport);
    if (handshake) {
      peer.write(encodePreface());
      peer.send({ type: FrameType.HELLO }, encodeHello({ ...hello, pingIntervalMs }));
      await peer.waitFor((f) => f.header.type === FrameType.HELLO);
    }
    return peer;
  }

  write(bytes: Uint8Array): void {
    this.transport.write(bytes);
  }

  send(header: FrameHeaderInit, body?: Uint8Array): void {
    this.write(encodeFrame(header, body));
  }

  /** Stops reading from the connection (the server's writes pile up). */
  pause(): void {
    this.transport.pause?.();
  }

  end(): void {
    this.transport.end();
  }

  destroy(): void {
    this.transport.destroy();
  }

  /** Waits for a frame matching `match` (seen already or later), up to `timeoutMs`. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const found = await this.until(() => this.frames.find(match), timeoutMs);
    if (found === undefined) throw new Error(`no matching frame within ${timeoutMs} ms; got ${this.describe()}`);
    return found;
  }

  /** Waits for the server to close the connection, up to `timeoutMs`. */
  async waitForEnd(timeoutMs = 5000): Promise<void> {
    const ended = await this.until(() => (this.ended ? true : undefined), timeoutMs);
    if (!ended) throw new Error(`the server did not close within ${timeoutMs} ms; got ${this.describe()}`);
  }

  /** Frame types received so far, for failure messages. */
  describe(): string {
    const names = this.frames.map((f) => `${frameTypeName(f.header.type)}#${f.header.requestId}`);
    return `[${names.join(", ")}]${this.ended ? " then EOF" : ""}${this.decoderError ? ` (decoder: ${String(this.decoderError)})` : ""}`;
  }

  private until<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const attempt = () => {
        const value = check();
        if (value !== undefined) {
          clearTimeout(timer);
          resolve(value);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => resolve(check()), timeoutMs);
      if (attempt()) return;
      const waiter = () => {
        if (!attempt()) this.waiters.push(waiter);
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
