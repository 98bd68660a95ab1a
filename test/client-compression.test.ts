// Gzip on the client: it offers gzip in its HELLO, sends request bodies of
// at least compressMinBytes gzip when the server lists gzip (and identity
// below, or when it does not), and inflates gzip responses within its own
// max_body_size; a response that does not decompress or inflates past it
// fails only its call. Against the reference server and a scripted one on
// 127.0.0.1. Cites [COMP-1] [COMP-2] [COMP-3] [COMP-7] [COMP-8] [LIMIT-3] [LIMIT-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { EchoRequestSchema, EchoResponseSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { Compression, createClient, createServer, decodeHello, FrameType, type Frame, type RawInflater } from "../src/node.ts";
import { nativeInflateRaw } from "../src/server/native-inflate.ts";
import { startScriptedServer, type ScriptedConnection } from "./support/scripted-server.ts";
import { TestService, testService } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { checkProperty } from "./support/property.ts";
import { hex } from "./support/proto-convert.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("client compression");

const LIMIT = 128 * 1024;

/** An EchoRequest text whose encoded request body is exactly `size` bytes (0, or 3 and more), from `seed` repeated. */
function textOfBodySize(size: number, seed: string): string {
  if (size === 0) return "";
  let n = size - 2;
  while (toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "a".repeat(n) })).length > size) n--;
  const text = seed.repeat(Math.ceil(n / seed.length)).slice(0, n);
  assert.is(toBinary(EchoRequestSchema, create(EchoRequestSchema, { text })).length, size);
  return text;
}

/** The body a REQUEST carries, inflated if it is gzip. */
function requestBody(frame: Frame): Uint8Array {
  return frame.header.compression === Compression.GZIP ? gunzipSync(frame.body) : frame.body;
}

/** Answers an Echo with `text`, gzip when the server chooses so. */
function answer(connection: ScriptedConnection, frame: Frame, text: string, compress: boolean): void {
  const body = toBinary(EchoResponseSchema, create(EchoResponseSchema, { text }));
  if (compress && body.length > 0) connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId, compression: Compression.GZIP }, gzipSync(body));
  else connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId }, body);
}

/** A scripted server that lists gzip, declares LIMIT, and echoes every request's text, gzip both ways when the client listed gzip. */
async function gzipEchoServer() {
  const server = await startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    const clientGzip = decodeHello(server.hellos[connection.index - 1]!).compression.includes(Compression.GZIP);
    answer(connection, frame, fromBinary(EchoRequestSchema, requestBody(frame)).text, clientGzip);
  }, { compression: [Compression.GZIP], maxBodySize: LIMIT });
  return server;
}

test("[COMP-2] the client lists gzip in its HELLO, and with gzip: false it lists nothing", async () => {
  const server = await gzipEchoServer();
  for (const gzip of [true, false]) {
    const client = createClient(TestService, { address: server.address, gzip });
    await client.echo({ text: "hello" });
    await client.$close();
    assert.equal(decodeHello(server.hellos.at(-1)!).compression, gzip ? [Compression.GZIP] : [], `gzip: ${gzip}`);
  }
  await server.close();
});

test("[COMP-7] [COMP-3] on the wire: a request body of 1024 bytes and more goes gzip, one of 1023 as is; a custom threshold and the off-switch apply", async () => {
  const server = await gzipEchoServer();
  const sent = async (options: Parameters<typeof createClient>[1], size: number) => {
    const client = createClient(TestService, options);
    const text = textOfBodySize(size, "strata ");
    assert.is((await client.echo({ text })).text, text);
    await client.$close();
    const frame = server.requests.at(-1)!;
    // What went out inflates to exactly the encoded request, and is one gzip member.
    assert.is(hex(requestBody(frame)), hex(toBinary(EchoRequestSchema, create(EchoRequestSchema, { text }))));
    return frame.header.compression;
  };
  const address = server.address;
  assert.is(await sent({ address }, 60_000), Compression.IDENTITY, "by default nothing is compressed");
  assert.is(await sent({ address, compressMinBytes: 1024 }, 1023), Compression.IDENTITY, "below the threshold");
  assert.is(await sent({ address, compressMinBytes: 1024 }, 1024), Compression.GZIP, "at the threshold");
  assert.ok(server.requests.at(-1)!.body.length < 1024 / 4, "and it really is smaller");
  assert.is(await sent({ address, compressMinBytes: 100 }, 100), Compression.GZIP);
  assert.is(await sent({ address, compressMinBytes: 100 }, 99), Compression.IDENTITY);
  assert.is(await sent({ address, compressMinBytes: Infinity }, 60_000), Compression.IDENTITY);
  assert.is(await sent({ address, gzip: false }, 60_000), Compression.IDENTITY);
  await server.close();
  // A server that does not list gzip gets identity however large the body [COMP-2].
  const plain = await startScriptedServer((connection, frame) => {
    if (frame.header.type === FrameType.REQUEST) answer(connection, frame, fromBinary(EchoRequestSchema, frame.body).text, false);
  });
  const client = createClient(TestService, { address: plain.address, compressMinBytes: 1024 });
  await client.echo({ text: "x".repeat(50_000) });
  assert.is(plain.requests.at(-1)!.header.compression, Compression.IDENTITY);
  await client.$close();
  await plain.close();
});

test("[COMP-3] [COMP-8] [LIMIT-3] property: bodies of every size up to the declared limits round-trip, gzip both ways from the threshold up; one byte past the server's limit fails locally", async () => {
  const server = await gzipEchoServer();
  const client = createClient(TestService, { address: server.address, limits: { maxBodySize: LIMIT }, compressMinBytes: 1024 });
  await checkProperty(
    fc.asyncProperty(
      fc.oneof(fc.constantFrom(0, 3, 1023, 1024, 1025, LIMIT - 1, LIMIT), fc.integer({ min: 3, max: LIMIT })),
      fc.string({ unit: fc.constantFrom(..."abcdefghijklmnop"), minLength: 1, maxLength: 64 }),
      async (size, seed) => {
        const text = textOfBodySize(size, seed);
        const before = server.requests.length;
        const reply = await client.echo({ text }, { timeoutMs: 10_000 });
        assert.ok(reply.text === text, `size ${size}: the text came back changed`);
        const frame = server.requests[before]!;
        assert.is(frame.header.compression, size >= 1024 ? Compression.GZIP : Compression.IDENTITY, `size ${size}`);
      },
    ),
    { numRuns: 40 },
  );
  assert.is(server.connections(), 1, "one connection throughout");
  // The body limit holds for what the server inflates, however small the gzip body would be [LIMIT-4].
  const before = server.requests.length;
  const tooLarge = await rpcFailure(client.echo({ text: textOfBodySize(LIMIT + 1, "a") }));
  assert.equal([tooLarge.layer, tooLarge.code, tooLarge.processed], ["transport", "LIMIT_EXCEEDED", "no"]);
  assert.is(server.requests.length, before, "nothing was sent");
  await client.$close();
  await server.close();
});

test("[COMP-8] a gzip bomb of a response is refused within the client's body limit; a corrupt one too; each fails its call alone and the connection goes on", async () => {
  const bomb = gzipSync(new Uint8Array(64 * 1024 * 1024)); // 64 MiB of zeros in about 64 KiB
  const good = gzipSync(toBinary(EchoResponseSchema, create(EchoResponseSchema, { text: "fine" })));
  const corrupt = Uint8Array.from(good);
  corrupt[corrupt.length - 5]! ^= 0xff; // the CRC-32
  const trailing = new Uint8Array([...good, 0]);
  let inflated = 0;
  const countingInflate: RawInflater = async (data, maxOutput) => {
    const result = await nativeInflateRaw(data, maxOutput);
    if (result !== "too-large") inflated = Math.max(inflated, result.output.length);
    return result;
  };
  const server = await startScriptedServer((connection, frame) => {
    if (frame.header.type !== FrameType.REQUEST) return;
    const kind = fromBinary(EchoRequestSchema, frame.body).text;
    const body = kind === "bomb" ? bomb : kind === "corrupt" ? corrupt : kind === "trailing" ? trailing : good;
    connection.send({ type: FrameType.RESPONSE, requestId: frame.header.requestId, compression: Compression.GZIP }, body);
  }, { compression: [Compression.GZIP] });
  const client = createClient(TestService, { address: server.address, inflateRaw: countingInflate });
  const bombed = await rpcFailure(client.echo({ text: "bomb" }));
  assert.equal([bombed.layer, bombed.code, bombed.processed], ["transport", "PROTOCOL_ERROR", "maybe"]);
  assert.match(bombed.message, /max_body_size of 4194304/);
  for (const kind of ["corrupt", "trailing"]) {
    const error = await rpcFailure(client.echo({ text: kind }));
    assert.equal([error.code, error.processed], ["PROTOCOL_ERROR", "maybe"], kind);
    assert.match(error.message, /does not decompress/, kind);
  }
  assert.is((await client.echo({ text: "after" })).text, "fine");
  assert.is(server.connections(), 1, "the connection stayed open");
  assert.ok(inflated <= 4 * 1024 * 1024, "nothing inflated past the limit");
  await client.$close();
  // A client that did not offer gzip refuses a gzip response [COMP-4].
  const identityOnly = createClient(TestService, { address: server.address, gzip: false });
  const refused = await rpcFailure(identityOnly.echo({ text: "good" }));
  assert.equal([refused.code, refused.processed], ["PROTOCOL_ERROR", "maybe"]);
  await identityOnly.$close();
  await server.close();
});

test("[COMP-3] the reference server inflates the client's gzip requests, at the threshold and at its body limit", async () => {
  const { impl } = testService();
  let inflations = 0;
  const server = createServer({ limits: { maxBodySize: LIMIT } }).addService(TestService, impl);
  const counting = createServer({ limits: { maxBodySize: LIMIT }, inflateRaw: (data, max) => (inflations++, nativeInflateRaw(data, max)) }).addService(TestService, impl);
  for (const s of [server, counting]) {
    const client = createClient(TestService, { address: await s.listen("127.0.0.1:0"), compressMinBytes: 1024 });
    for (const size of [1024, LIMIT]) {
      const text = textOfBodySize(size, "keyed dispatch ");
      assert.is((await client.echo({ text })).text, text);
    }
    await client.$close();
    await s.close();
  }
  assert.is(inflations, 2, "both requests reached the server gzip");
});

test("[KEYS-4] calls made in order are written in order, also when an earlier one is still being compressed", async () => {
  const server = await gzipEchoServer();
  const client = createClient(TestService, { address: server.address, compressMinBytes: 1024 });
  const texts = ["big-1".padEnd(100_000, "x"), "small-1", "big-2".padEnd(5000, "y"), "small-2"];
  const replies = await Promise.all(texts.map((text) => client.echo({ text }, { keys: ["k"] })));
  assert.equal(replies.map((r) => r.text), texts);
  assert.equal(server.requests.map((r) => fromBinary(EchoRequestSchema, requestBody(r)).text.slice(0, 7)), texts.map((t) => t.slice(0, 7)));
  assert.equal(server.requests.map((r) => r.header.requestId), [1, 2, 3, 4]);
  // A oneway call needs no room at the server, but it does not pass a call still being compressed either.
  const big = client.echo({ text: "big-3".padEnd(100_000, "z") });
  await client.$oneway.echo({ text: "oneway" });
  await big;
  await waitUntil(() => server.requests.length === 6);
  assert.equal(server.requests.slice(4).map((r) => fromBinary(EchoRequestSchema, requestBody(r)).text.slice(0, 6)), ["big-3z", "oneway"]);
  await client.$close();
  await server.close();
});

test.run();
