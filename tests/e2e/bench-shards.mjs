// Benchmark (not a test): one version split across N Workers (EdgeRec.open's
// `workers`) against the same version in one Worker, in one headless
// Chromium page, on the release build. For similar items, for you and next
// up: the latency of one call at a time (p50 / p95), and the throughput with
// 2 and 4 calls in flight per Worker of the split version (calls/s), each
// instance in turn, round by round.
// Also the time to open and each Worker's wasm memory. Answers are compared.
//     make bench-shards [WORKERS=2] [CHANNEL=/synthetic/synthetic-1m/] [ROUNDS=3]
import { serve } from './static-server.mjs';
import { launch } from './browser.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const workers = Number(process.env.WORKERS ?? 2);
const channel = process.env.CHANNEL ?? '/synthetic/synthetic-1m/';
const rounds = Number(process.env.ROUNDS ?? 3);
const server = await serve(`${repo}www/`, {
  isolated: true, // precise timers
  mounts: { '/fixture/': `${repo}tests/e2e/fixtures/`, '/synthetic/': `${repo}build/channels/` },
});
const browser = await launch();
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}fixture/shards.html?channel=${encodeURIComponent(channel)}&workers=${workers}`);
  await page.waitForFunction(() => window.opened || window.openError, null, { timeout: 1_800_000, polling: 1000 });
  const error = await page.evaluate(() => window.openError);
  if (error) throw new Error(`${error.code}: ${error.message}`);
  const result = await page.evaluate(measure, { rounds, inFlight: [2 * workers, 4 * workers] });
  report(result);
} finally {
  await browser.close();
  await server.close();
}

// In the page: every method on both instances, interleaved round by round.
async function measure({ rounds, inFlight }) {
  const ids = (await window.one.items()).items.map((item) => item.id);
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = () => ids[Math.floor(random() * ids.length)];
  const histories = Array.from({ length: 40 }, () => Array.from({ length: 5 + Math.floor(random() * 20) }, pick));
  const methods = {
    similar: (rec, i) => rec.similar(histories[i][0], { k: 10 }),
    'for you': (rec, i) => rec.forShopper({ history: histories[i], k: 10 }),
    'next up': (rec, i) => rec.nextUp({ history: histories[i], k: 10 }),
  };
  const instances = { one: window.one, split: window.split };
  const result = { items: ids.length, openMs: window.openMs, methods: {}, memory: {} };
  for (const [name, call] of Object.entries(methods)) {
    const times = { one: [], split: [] };
    const rates = Object.fromEntries(inFlight.map((calls) => [calls, { one: [], split: [] }]));
    let same = 0;
    for (const i of histories.keys()) {
      const [a, b] = await Promise.all([call(window.one, i), call(window.split, i)]);
      if (a.items.map((x) => x.id).join() === b.items.map((x) => x.id).join()) same++;
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? ['split', 'one'] : ['one', 'split'];
      for (const which of order) {
        const rec = instances[which];
        for (const i of histories.keys()) {
          const started = performance.now();
          await call(rec, i);
          times[which].push(performance.now() - started);
        }
        // Throughput: `calls` always waiting, the inputs twice over. A split
        // call waits for every shard between its two rounds, so a shard idles
        // unless other calls are queued behind it.
        for (const calls of inFlight) {
          let next = 0;
          const started = performance.now();
          const lane = async () => { while (next < 2 * histories.length) await call(rec, next++ % histories.length); };
          await Promise.all(Array.from({ length: calls }, lane));
          rates[calls][which].push((2 * histories.length) / ((performance.now() - started) / 1000));
        }
      }
    }
    result.methods[name] = { times, rates, same, inputs: histories.length };
  }
  for (const [which, rec] of Object.entries(instances)) result.memory[which] = (await rec.memory()).perWorker;
  return result;
}

function report({ items, openMs, methods, memory }) {
  const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];
  const median = (values) => quantile(values, 0.5);
  const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  console.log(`\n${channel}: ${items.toLocaleString('en')} items, ${workers} Workers against one; ${rounds} rounds`);
  console.log(`opened in: one Worker ${(openMs.one / 1000).toFixed(1)} s, ${workers} Workers ${(openMs.split / 1000).toFixed(1)} s`);
  console.log(`wasm memory: one Worker ${mb(memory.one[0])}; split ${memory.split.map(mb).join(' + ')}`);
  console.log('\n| call | latency p50 / p95, one Worker | split | calls in flight | throughput, one Worker | split | ratio (goal ≥ 0.8 × N) | same answers |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [name, { times, rates, same, inputs }] of Object.entries(methods)) {
    const ms = (values) => `${median(values).toFixed(2)} / ${quantile(values, 0.95).toFixed(2)} ms`;
    Object.entries(rates).forEach(([calls, rate], row) => {
      const [one, split] = [median(rate.one), median(rate.split)];
      const ratio = `${(split / one).toFixed(2)}× (${(split / one / workers).toFixed(2)} × N)`;
      const latency = row ? '| | | ' : `| ${name} | ${ms(times.one)} | ${ms(times.split)} `;
      console.log(`${latency}| ${calls} | ${one.toFixed(0)}/s | ${split.toFixed(0)}/s | ${ratio} | ${row ? '' : `${same}/${inputs}`} |`);
    });
  }
}
