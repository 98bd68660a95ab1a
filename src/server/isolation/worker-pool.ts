// The server side of handler isolation: a pool of worker threads that run
// one isolated service's handlers, one call per worker at a time. A worker
// that dies (uncaught exception, exit, or terminated because its handler
// ran on past its deadline, its cancel or the pool's maximum run time)
// fails only the call it was running, with HANDLER_CRASHED, and is
// replaced; the server's event loop never runs handler code, so CPU-heavy
// handlers do not stall its I/O. Calls wait for a free worker in a bounded
// queue; one that never leaves it was not processed, and the server says so.

import { Worker } from "node:worker_threads";
import { RpcError } from "../../status/index.ts";
import type { QueueingContext } from "../handler-context.ts";
import type { MetadataEntry } from "../../wire/index.ts";
import type { FromWorker, SerializedError, ToWorker } from "./worker-messages.ts";
import { setTimer, type Timer } from "../../util/timer.ts";
import type { IsolationPoolStart } from "./isolation-pool.ts";
import type { ConnectionInfo } from "../../transport/index.ts";

/** Options of a worker pool: what the server passes to start one [STATUS-4]. */
export type WorkerPoolOptions = IsolationPoolStart;

/** Counters of a pool. */
export interface WorkerPoolStats {
  /** Workers that have loaded the module and are alive. */
  workers: number;
  /** Of those, the ones running a call. */
  busy: number;
  /** Calls waiting for a free worker. */
  queued: number;
  /** Workers that died and were replaced since the start. */
  crashes: number;
}

interface Job {
  readonly id: number;
  readonly method: string;
  readonly input: unknown;
  readonly context: QueueingContext;
  readonly resolve: (output: unknown) => void;
  readonly reject: (error: unknown) => void;
  onAbort: (() => void) | undefined;
  /** Ends a run that lasts longer than maxRunMs. */
  runTimer: Timer | undefined;
  /** Terminates a worker whose handler was told to stop and has not. */
  graceTimer: Timer | undefined;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  /** Being terminated: takes no new call, though messages it sent before may still arrive. */
  terminating: boolean;
  dead: boolean;
  job: Job | undefined;
  /** The uncaught error that killed the worker, for the crash message. */
  error: string | undefined;
}

/**
 * The worker's first module. Beside these TypeScript sources it is
 * worker-boot.mjs, which makes TypeScript loadable on Node; beside the built
 * package (or a bundle of it) it is worker-entry.js, plain JavaScript.
 */
function defaultWorkerEntry(): URL {
  return import.meta.url.endsWith(".ts") ? new URL("./worker-boot.mjs", import.meta.url) : new URL("./worker-entry.js", import.meta.url);
}

/** Worker threads running one isolated service [STATUS-4]. */
export class WorkerPool {
  private readonly options: WorkerPoolOptions;
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextJobId = 1;
  private crashes = 0;
  private closed = false;
  private dispatching = false;
  private dispatchAgain = false;
  private implemented: readonly string[] = [];
  private readonly entry: URL;

  private constructor(options: WorkerPoolOptions) {
    this.options = options;
    this.entry = options.workerEntry === undefined ? defaultWorkerEntry() : new URL(options.workerEntry);
  }

  /** The methods (by name, e.g. "Transfer") the module has handlers for. */
  get methods(): readonly string[] {
    return this.implemented;
  }

  /** Starts the workers; rejects with the module's load error if they cannot load it. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new RangeError(`workers must be a whole number >= 1, got ${options.workers}`);
    }
    if (!Number.isInteger(options.maxQueued) || options.maxQueued < 0) {
      throw new RangeError(`maxQueued must be a whole number >= 0, got ${options.maxQueued}`);
    }
    if (!(options.maxRunMs > 0)) throw new RangeError(`maxRunMs must be more than 0 (Infinity: no bound), got ${options.maxRunMs}`);
    const pool = new WorkerPool(options);
    try {
      await Promise.all(Array.from({ length: options.workers }, () => pool.spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /**
   * Runs `method` on a free worker and resolves with the handler's output;
   * response metadata it set lands in `context.responseMetadata`. Rejects
   * with what the handler threw, HANDLER_CRASHED if its worker died, or,
   * before it started, OVERLOADED when the queue is full and SHUTTING_DOWN
   * when the pool closed (both not processed) [LIMIT-5] [STATUS-6].
   */
  run(method: string, input: unknown, context: QueueingContext): Promise<unknown> {
    if (this.closed) return Promise.reject(shuttingDown());
    const signal = context.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.queue.length >= this.options.maxQueued && !this.hasIdleWorker()) {
      const { workers, maxQueued } = this.options;
      return Promise.reject(
        new RpcError({ layer: "dispatch", code: "OVERLOADED", message: `all ${workers} workers of ${this.options.service} are busy and ${maxQueued} calls wait [LIMIT-5]`, processed: "no" }),
      );
    }
    return new Promise<unknown>((resolve, reject) => {
      const job: Job = { id: this.nextJobId++, method, input, context, resolve, reject, onAbort: undefined, runTimer: undefined, graceTimer: undefined };
      job.onAbort = () => this.onAbort(job);
      signal.addEventListener("abort", job.onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  stats(): WorkerPoolStats {
    let workers = 0;
    let busy = 0;
    for (const slot of this.slots) {
      if (!slot.ready || slot.dead) continue;
      workers++;
      if (slot.job !== undefined) busy++;
    }
    return { workers, busy, queued: this.queue.length, crashes: this.crashes };
  }

  /** Terminates every worker; calls still running fail, and queued ones are refused SHUTTING_DOWN. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, shuttingDown());
    const terminations: Array<Promise<unknown>> = [];
    for (const slot of this.slots) {
      slot.dead = true;
      if (slot.job !== undefined) this.settle(slot.job, crashed("the server closed while the handler ran"));
      terminations.push(slot.worker.terminate());
    }
    this.slots.clear();
    await Promise.all(terminations);
  }

  /** Starts one worker; resolves once it has loaded the module. */
  private spawn(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(this.entry, { workerData: { module: this.options.module, service: this.options.service } });
      const slot: Slot = { worker, ready: false, terminating: false, dead: false, job: undefined, error: undefined };
      this.slots.add(slot);
      worker.on("message", (message: FromWorker) => {
        if (message.type === "ready") {
          slot.ready = true;
          this.implemented = message.methods;
          resolve();
          this.dispatch();
        } else if (message.type === "load-failed") {
          slot.dead = true;
          this.slots.delete(slot);
          void worker.terminate();
          reject(new Error(`isolated service ${this.options.service}: ${message.message}`));
        } else {
          this.onMessage(slot, message);
        }
      });
      worker.on("error", (error: Error) => {
        slot.error = `uncaught ${error.name}: ${error.message}`;
        if (!slot.ready) {
          slot.dead = true;
          this.slots.delete(slot);
          reject(new Error(`isolated service ${this.options.service}: its worker failed to start: ${error.message}`));
          return;
        }
        this.onDeath(slot, slot.error);
      });
      worker.on("exit", (code: number) => {
        if (!slot.ready) {
          if (!slot.dead) reject(new Error(`isolated service ${this.options.service}: its worker exited with code ${code} while starting`));
          slot.dead = true;
          this.slots.delete(slot);
          return;
        }
        this.onDeath(slot, slot.error ?? `the worker exited with code ${code}`);
      });
    });
  }

  private hasIdleWorker(): boolean {
    for (const slot of this.slots) if (isIdle(slot)) return true;
    return false;
  }

  /**
   * Hands queued calls to idle workers. Not re-entered: a call that may not
   * start can, as the server answers it, release keys that start another
   * call, which enters the pool while a worker is being chosen.
   */
  private dispatch(): void {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.dispatchAgain = false;
        for (const slot of this.slots) {
          if (this.queue.length === 0) break;
          if (!isIdle(slot)) continue;
          const job = this.nextStartable();
          if (job === undefined) break;
          this.startOn(slot, job);
        }
      } while (this.dispatchAgain);
    } finally {
      this.dispatching = false;
    }
  }

  /** The next queued call that may start; the server has answered those that must not (deadline passed), and they never run [DEADLINE-3]. */
  private nextStartable(): Job | undefined {
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      if (job.context.begin()) return job;
      this.settle(job, new RpcError({ layer: "dispatch", code: "DEADLINE_EXPIRED", message: "the deadline passed while the request waited for a worker", processed: "no" }));
    }
    return undefined;
  }

  private startOn(slot: Slot, job: Job): void {
    slot.job = job;
    const { context } = job;
    const message: ToWorker = {
      type: "call",
      id: job.id,
      method: job.method,
      input: job.input,
      info: {
        requestId: context.requestId,
        service: context.service,
        method: context.method,
        metadata: context.metadata,
        keys: context.keys,
        peer: context.peer,
        // Plain data: it crosses to the worker by structured clone (a transport's info may be getters).
        connection: connectionData(context.connection),
        remainingMs: context.remainingMs(),
      },
    };
    try {
      slot.worker.postMessage(message);
    } catch (error) {
      slot.job = undefined;
      this.settle(job, new TypeError(`the request cannot be handed to a worker: ${(error as Error).message}`));
      return;
    }
    if (Number.isFinite(this.options.maxRunMs)) {
      job.runTimer = setTimer(() => this.stop(slot, job, "TimeoutError", `the handler ran for its maximum of ${this.options.maxRunMs} ms`), this.options.maxRunMs);
    }
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    const job = slot.job;
    if (job === undefined || !("id" in message) || message.id !== job.id) return;
    if (message.type === "drain") {
      job.context.drainConnection(message.graceMs);
      return;
    }
    slot.job = undefined;
    try {
      // A new array, not a push: plain JavaScript may have put a frozen or shared one there [META-1].
      if (message.metadata.length > 0) (job.context as { responseMetadata: MetadataEntry[] }).responseMetadata = [...job.context.responseMetadata, ...message.metadata];
      if (message.type === "result") this.settle(job, undefined, message.output);
      else this.settle(job, deserialize(message.error));
    } catch (error) {
      // Taking the answer in failed: the call fails with that error instead of never settling, and the worker serves on.
      this.settle(job, error);
    }
    this.dispatch();
  }

  /** The call's signal fired: a call still queued here never starts; a running one is told to stop. */
  private onAbort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, job.context.signal.reason);
      return;
    }
    const slot = [...this.slots].find((s) => s.job === job);
    if (slot === undefined) return;
    const reason = job.context.signal.reason as { name?: unknown; message?: unknown } | undefined;
    this.stop(slot, job, String(reason?.name ?? "AbortError"), String(reason?.message ?? "aborted"));
  }

  /** Tells a running handler to stop (its signal fires with `name` and `why`); one that has not returned within the grace period has its worker terminated. */
  private stop(slot: Slot, job: Job, name: string, why: string): void {
    if (slot.job !== job || slot.dead) return;
    const message: ToWorker = { type: "abort", id: job.id, reason: { name, message: why } };
    slot.worker.postMessage(message);
    job.graceTimer ??= setTimer(() => {
      if (slot.job !== job || slot.dead) return;
      slot.error = `${why}; the handler ran on ${this.options.terminateGraceMs} ms after it was told to stop, and its worker was terminated`;
      slot.terminating = true;
      void slot.worker.terminate();
    }, this.options.terminateGraceMs);
  }

  /** A worker died: its call fails with HANDLER_CRASHED, and a new worker takes its place. */
  private onDeath(slot: Slot, why: string): void {
    if (slot.dead) return;
    slot.dead = true;
    this.slots.delete(slot);
    this.crashes++;
    void slot.worker.terminate();
    const job = slot.job;
    slot.job = undefined;
    if (job !== undefined) this.settle(job, crashed(why));
    if (this.closed) return;
    this.spawn().then(
      () => this.dispatch(),
      () => this.replaceLater(),
    );
  }

  /** A replacement failed to start: try again shortly, so queued calls are not stranded while the cause clears. */
  private replaceLater(): void {
    setTimer(() => {
      if (this.closed) return;
      this.spawn().then(
        () => this.dispatch(),
        () => this.replaceLater(),
      );
    }, 1000, { keepAlive: false });
  }

  /** Ends a call: with `error`, or (error undefined) with `output`. */
  private settle(job: Job, error: unknown, output?: unknown): void {
    job.runTimer?.clear();
    job.graceTimer?.clear();
    if (job.onAbort !== undefined) job.context.signal.removeEventListener("abort", job.onAbort);
    if (error === undefined) job.resolve(output);
    else job.reject(error);
  }
}

function isIdle(slot: Slot): boolean {
  return slot.ready && !slot.terminating && !slot.dead && slot.job === undefined;
}

function shuttingDown(): RpcError {
  return new RpcError({ layer: "dispatch", code: "SHUTTING_DOWN", message: "the server closed before the request started [DRAIN-10]", processed: "no" });
}

function crashed(why: string): RpcError {
  return new RpcError({ layer: "dispatch", code: "HANDLER_CRASHED", message: `the handler crashed: ${why}`, processed: "maybe" });
}

function deserialize(error: SerializedError): unknown {
  if (error.rpc === undefined) return new Error(error.message);
  return new RpcError({ layer: error.rpc.layer, code: error.rpc.code, message: error.rpc.message, details: error.rpc.details });
}

/** The fields of connection info as plain data, for a worker [CALL-2]. */
function connectionData(info: ConnectionInfo): ConnectionInfo {
  return {
    peer: info.peer,
    secure: info.secure,
    ...(info.remoteAddress !== undefined ? { remoteAddress: info.remoteAddress } : {}),
    ...(info.protocol !== undefined ? { protocol: info.protocol } : {}),
    ...(info.peerCertificate !== undefined ? { peerCertificate: { ...info.peerCertificate, subjectAltNames: [...info.peerCertificate.subjectAltNames] } } : {}),
  };
}
