// A test page in Debian's headless Chromium (playwright-core; browser
// downloads do not work here): the page's script is bundled with esbuild
// for the browser, so a Node built-in anywhere in it fails the build, and
// served from 127.0.0.1 by a plain HTTP server. The page sets window.done
// (a promise) and window.results; the test reads them.
import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";

export const CHROMIUM = "/usr/bin/chromium";

/** Why pages cannot run here, with the command that fixes it; undefined when Chromium is installed. */
export function chromiumProblem(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `Chromium at ${CHROMIUM}: apt-get install -y chromium`;
}

/** A served page and the browser that opens it. */
export interface PageHost {
  /** The page's origin, e.g. "http://127.0.0.1:40123": what a server's allowedOrigins must list. */
  readonly origin: string;
  /** The bundled script. */
  readonly script: string;
  /** Opens the page with `query`, waits for window.done, returns window.results (with console lines under `console` on failure). */
  open(query: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Bundles `entry` for the browser, serves it, and launches headless Chromium. */
export async function startPageHost(entry: URL): Promise<PageHost> {
  const bundle = await build({ entryPoints: [entry.pathname], bundle: true, platform: "browser", format: "esm", target: "chrome120", write: false, logLevel: "silent" });
  const script = bundle.outputFiles[0]!.text;
  const web = http.createServer((request, response) => {
    if (request.url?.startsWith("/page.js")) return void response.writeHead(200, { "Content-Type": "text/javascript" }).end(script);
    response.writeHead(200, { "Content-Type": "text/html" }).end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  return {
    origin,
    script,
    async open(query) {
      const page = await browser.newPage();
      const logged: string[] = [];
      page.on("console", (message) => logged.push(message.text()));
      page.on("pageerror", (error) => logged.push(String(error)));
      await page.goto(`${origin}/?${query}`);
      await page.waitForFunction(() => (window as unknown as { done?: Promise<void> }).done !== undefined, undefined, { timeout: 10_000 });
      await page.evaluate(() => (window as unknown as { done: Promise<void> }).done);
      const results = (await page.evaluate(() => (window as unknown as { results: Record<string, unknown> }).results)) as Record<string, unknown>;
      await page.close();
      return results.failure === undefined ? results : { ...results, failure: `${String(results.failure)}\n${logged.join("\n")}` };
    },
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    },
  };
}
