/**
 * Both benchmarks of issue #2, one after the other, then a short summary against the targets.
 * Figures are printed, never asserted on: PASS/MISS are labels, and the exit code is 0 unless a
 * run itself broke.
 *
 *   npm run bench [-- --rate 100 --calls 2000 --warmup 200 --parked 10000 --only wake|heap]
 *
 * Every flag is described in bench/README.md.
 */
import { isEntryPoint, stringFlag } from './support/flags.js';
import { kib, ms, verdict } from './support/stats.js';
import { PARKED_HEAP_TARGET_BYTES, parkedHeapOptionsFromFlags, printParkedHeap, runParkedHeap, type ParkedHeapResult } from './parked-heap.js';
import { WAKE_PATH_TARGET_P99_MS, printWakePath, runWakePath, wakePathOptionsFromFlags, type WakePathResult } from './wake-path.js';

export async function runAll(): Promise<number> {
  const only = stringFlag('only', 'all');
  let wake: WakePathResult | undefined;
  let heap: ParkedHeapResult | undefined;
  let broke = false;
  if (only === 'all' || only === 'wake') {
    try {
      wake = await runWakePath(wakePathOptionsFromFlags());
      printWakePath(wake);
    } catch (err) {
      broke = true;
      console.error('wake-path benchmark broke:', err);
    }
    console.log('');
  }
  if (only === 'all' || only === 'heap') {
    try {
      heap = await runParkedHeap(parkedHeapOptionsFromFlags());
      printParkedHeap(heap);
    } catch (err) {
      broke = true;
      console.error('parked-heap benchmark broke:', err);
    }
    console.log('');
  }
  printSummary(wake, heap);
  return broke ? 1 : 0;
}

function printSummary(wake: WakePathResult | undefined, heap: ParkedHeapResult | undefined): void {
  const rows: Array<[string, string, string, string]> = [];
  if (wake) {
    const target = `p99 < ${WAKE_PATH_TARGET_P99_MS} ms`;
    rows.push([`A invite-received → push-sending (p99)`, ms(wake.delayA.p99), target, verdict(wake.delayA.count > 0 && wake.delayA.p99 < WAKE_PATH_TARGET_P99_MS)]);
    rows.push([`B upstream-register-ok → leg-sending (p99)`, ms(wake.delayB.p99), target, verdict(wake.delayB.count > 0 && wake.delayB.p99 < WAKE_PATH_TARGET_P99_MS)]);
    rows.push([`  wake-path run`, `${wake.completed} ok, ${wake.failed} failed`, `${wake.achievedRate.toFixed(1)} calls/s`, `${wake.cpuPerCallMs.toFixed(2)} ms CPU/call`]);
  }
  if (heap) {
    rows.push([`heap per parked call (${heap.parkedCalls} parked)`, kib(heap.perCallBytes), `< ${kib(PARKED_HEAP_TARGET_BYTES)}`, verdict(heap.parkedCalls > 0 && heap.perCallBytes < PARKED_HEAP_TARGET_BYTES)]);
  }
  if (rows.length === 0) return;
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  console.log(`summary (issue #2 targets; labels only, not assertions)`);
  for (const r of rows) console.log(`  ${r[0].padEnd(w[0] ?? 0)}  ${r[1].padStart(w[1] ?? 0)}  ${r[2].padEnd(w[2] ?? 0)}  ${r[3]}`);
}

if (isEntryPoint(import.meta.url)) {
  runAll().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
