// Reads one JSON job on stdin ({base, calls: [{handler, body}]}), calls the peer through the
// generated client, answers one JSON report on stdout ({results: [{ok} | {error, message,
// status}]}). Type-checked by tsc against the generated types before it runs.
import { GreeterClient, PeerkitError, type Greet, type Greeting } from "./greeter.js";

const job = JSON.parse(
  await new Promise<string>((resolve) => {
    let data = "";
    process.stdin.on("data", (chunk) => (data += chunk));
    process.stdin.on("end", () => resolve(data));
  }),
);
const client = new GreeterClient(job.base, job.token);
const results: unknown[] = [];
for (const { handler, body } of job.calls) {
  try {
    // the typed methods, by name: a typo here fails tsc, not at run time
    const calls: Record<string, (b: any) => Promise<unknown>> = {
      greet: (b: Greet) => client.greet(b),
      relay: (b) => client.relay(b),
      inbox: (b) => client.inbox(b),
      announce: (b) => client.announce(b),
    };
    const reply = await calls[handler](body);
    results.push({ ok: reply });
  } catch (err) {
    if (err instanceof PeerkitError) {
      results.push({ error: err.code, message: err.message, status: err.status });
    } else {
      results.push({ error: "client", message: String(err) });
    }
  }
}
const greeting: Greeting = { text: "typed", by: "tsc" }; // the reply type is the schema's
void greeting;
process.stdout.write(JSON.stringify({ results }));
