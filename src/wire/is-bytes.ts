// Whether a value is a Uint8Array, also one made in another realm (a node:vm
// context, a test runner's sandbox), where instanceof says no.

/** Whether `value` is a Uint8Array of this realm or another [META-3]. */
export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array || (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === "[object Uint8Array]");
}
