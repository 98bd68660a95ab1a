// The spec checks itself against the code: every requirement id is defined
// once and indexed, every id the code cites exists, and every worked hex
// example in spec/protocol.md decodes with this codec and re-encodes to the
// same bytes. Cites [FRAME-1] [PREFACE-1] [HELLO-1] [DRAIN-1] [PING-2].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import {
  createFrameDecoder,
  decodeGoaway,
  decodeHello,
  DEFAULT_LIMITS,
  encodeFrame,
  FrameType,
  readPreface,
  type Frame,
} from "../src/wire/index.ts";
import { hex } from "./support/proto-convert.ts";

const test = suite("spec");
const root = new URL("..", import.meta.url).pathname;
const spec = readFileSync(join(root, "spec/protocol.md"), "utf8");

const defined = [...spec.matchAll(/^\*\*\[([A-Z]+-\d+)\]\*\*/gm)].map((m) => m[1]!);
const appendix = spec.slice(spec.indexOf("## Appendix A"));
const indexed = [...appendix.matchAll(/^\| ([A-Z]+-\d+) \|/gm)].map((m) => m[1]!);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(ts|proto|md)$/.test(name) ? [path] : [];
  });
}

test("every requirement id is defined exactly once", () => {
  const seen = new Set<string>();
  for (const id of defined) {
    assert.not.ok(seen.has(id), `[${id}] is defined twice`);
    seen.add(id);
  }
  assert.ok(defined.length >= 100, `only ${defined.length} ids found`);
});

test("Appendix A lists exactly the defined ids", () => {
  assert.equal([...indexed].sort(), [...defined].sort());
});

test("every id cited by proto/, src/, test/, bench/, scripts/ and conformance/ is defined in the spec", () => {
  const known = new Set(defined);
  for (const dir of ["proto", "src", "test", "bench", "scripts", "conformance"]) {
    for (const file of files(join(root, dir))) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(/\[([A-Z]+-\d+)\]/g)) {
        assert.ok(known.has(match[1]!), `${relative(root, file)} cites [${match[1]}], which spec/protocol.md does not define`);
      }
    }
  }
});

test("every id the spec refers to is defined", () => {
  const known = new Set(defined);
  for (const match of spec.matchAll(/\[([A-Z]+-\d+)\]/g)) {
    assert.ok(known.has(match[1]!), `the spec refers to [${match[1]}], which it does not define`);
  }
});

/** The ```hex blocks of the spec as bytes, with the heading they appear under. */
function hexBlocks(): Array<{ where: string; bytes: Uint8Array }> {
  const blocks: Array<{ where: string; bytes: Uint8Array }> = [];
  let heading = "";
  const lines = spec.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith("#")) heading = lines[i]!;
    if (lines[i] !== "```hex") continue;
    const body: string[] = [];
    for (i++; lines[i] !== "```"; i++) body.push(lines[i]!.replace(/#.*$/, ""));
    const bytes = body.join(" ").trim().split(/\s+/).filter(Boolean).map((b) => {
      assert.ok(/^[0-9a-f]{2}$/.test(b), `${heading}: "${b}" is not a lowercase hex byte`);
      return parseInt(b, 16);
    });
    blocks.push({ where: `${heading} (line ${i})`, bytes: Uint8Array.from(bytes) });
  }
  return blocks;
}

test("every worked hex example decodes, and re-encodes to the same bytes", () => {
  const blocks = hexBlocks();
  assert.ok(blocks.length >= 8, `only ${blocks.length} hex examples`);
  const types = new Set<number>();
  for (const { where, bytes } of blocks) {
    const preface = readPreface(bytes);
    if (preface.kind === "preface") {
      assert.is(bytes.length, 8, `${where}: a preface is 8 bytes`);
      continue;
    }
    const frames: Frame[] = [];
    const decoder = createFrameDecoder({ limits: DEFAULT_LIMITS, onFrame: (f) => frames.push(f) });
    decoder.push(bytes);
    decoder.end();
    assert.is(frames.length, 1, `${where}: one frame per block`);
    const { header, body } = frames[0]!;
    types.add(header.type);
    assert.is(hex(encodeFrame(header, body)), hex(bytes), `${where}: re-encoding differs`);
    if (header.type === FrameType.HELLO) decodeHello(body);
    if (header.type === FrameType.GOAWAY) decodeGoaway(body);
  }
  for (const type of [FrameType.HELLO, FrameType.REQUEST, FrameType.RESPONSE, FrameType.PING, FrameType.PONG, FrameType.GOAWAY]) {
    assert.ok(types.has(type), `no worked example of frame type ${type}`);
  }
});

test.run();
