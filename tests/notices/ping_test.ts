import { rejects, strictEqual } from "node:assert/strict";
import { pingAddress, sendPing } from "../../lib/notices/ping.ts";

Deno.test("pingAddress appends /start and /fail, and nothing for success", () => {
  strictEqual(pingAddress("https://hc.example/abc/", "start"), "https://hc.example/abc/start");
  strictEqual(pingAddress("https://hc.example/abc", "success"), "https://hc.example/abc");
  strictEqual(pingAddress("https://hc.example/abc", "fail"), "https://hc.example/abc/fail");
});

Deno.test("sendPing gives up after its timeout when the server never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    // Accept and never answer.
    for await (const conn of listener) held.push(conn);
  })();
  try {
    await rejects(
      sendPing(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/x`, "start", "", {
        timeoutMs: 300,
      }),
      // A TimeoutError, not a hang: the timeout given is the one used (the default is 10 s).
      (err: Error) => err.name === "TimeoutError",
    );
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => undefined);
  }
});

Deno.test("sendPing fails on an HTTP error status", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("no", { status: 404 }),
  );
  try {
    await rejects(
      sendPing(`http://127.0.0.1:${server.addr.port}/x`, "fail", "boom"),
      new Error(`Cannot ping "http://127.0.0.1:${server.addr.port}/x/fail": HTTP 404`),
    );
  } finally {
    await server.shutdown();
  }
});
