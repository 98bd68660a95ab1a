// A typed bag of values that travels with one call: interceptors put
// things in (the authenticated identity, a trace id), handlers and inner
// interceptors read them out. Keys are objects, so two libraries cannot
// collide on a name, and each key carries its type and default.

/** A key of the bag, with the type of its value and the value read when none was set. */
export interface ContextKey<T> {
  readonly id: symbol;
  readonly defaultValue: T;
  readonly description: string;
}

/** Makes a key whose value is `defaultValue` until one is set. */
export function createContextKey<T>(defaultValue: T, options: { description?: string } = {}): ContextKey<T> {
  const description = options.description ?? "context value";
  return Object.freeze({ id: Symbol(description), defaultValue, description });
}

/** The values of one call, by key. */
export interface ContextValues {
  /** The value set for `key`, or its default. */
  get<T>(key: ContextKey<T>): T;
  /** Sets the value of `key`; returns the bag. */
  set<T>(key: ContextKey<T>, value: T): this;
  /** Removes the value of `key`, so that it reads as its default again; returns the bag. */
  delete(key: ContextKey<unknown>): this;
}

class ValueBag implements ContextValues {
  private readonly values = new Map<symbol, unknown>();

  get<T>(key: ContextKey<T>): T {
    return this.values.has(key.id) ? (this.values.get(key.id) as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    this.values.set(key.id, value);
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    this.values.delete(key.id);
    return this;
  }
}

/** An empty bag. */
export function createContextValues(): ContextValues {
  return new ValueBag();
}
