// A hand-driven Strata client over a real socket, for tests that must see
// or send exact frames: it does the handshake (or not), writes any bytes,
// and collects every frame and the EOF.
import * as net from "node:net";
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
  private readonly socket: net.Socket;
  private readonly waiters: Array<() => void> = [];
  private decoderError: unknown;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const decoder = createFrameDecoder({
      limits: { maxHeaderSize: DEFAULT_LIMITS.maxHeaderSize, maxBodySize: 64 * 1024 * 1024 },
      onFrame: (frame) => this.frames.push({ header: frame.header, body: frame.body.slice() }),
    });
    socket.on("data", (chunk: Buffer) => {
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
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end);
  }

  /** Connects; with `handshake` (default) sends preface and HELLO and waits for the server's HELLO. */
  static async connect(
    address: string,
    { handshake = true, pingIntervalMs = 60_000, hello = {} }: { handshake?: boolean; pingIntervalMs?: number; hello?: { maxHeaderSize?: number; maxBodySize?: number } } = {},
  ): Promise<RawPeer> {
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    const peer = new RawPeer(socket);
    if (handshake) {
      peer.write(encodePreface());
      peer.send({ type: FrameType.HELLO }, encodeHello({ ...hello, pingIntervalMs }));
      await peer.waitFor((f) => f.header.type === FrameType.HELLO);
    }
    return peer;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(header: FrameHeaderInit, body?: Uint8Array): void {
    this.write(encodeFrame(header, body));
  }

  /** Stops reading from the socket (the server's writes pile up). */
  pause(): void {
    this.socket.pause();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
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
