import 'reflect-metadata';
import { adaptiveBench } from './adaptive.bench';
import { admissionBench } from './admission.bench';
import { daemonBench } from './daemon.bench';
import { providerBench } from './provider.bench';
import { redisBench } from './redis.bench';
import { routingBench } from './routing.bench';
import { Targets } from './targets';

// Benchmarks print figures and ratios; they never assert on time. Timings on
// a shared 2-core machine are noisy, so compare the ratios within one run.

/**
 * Every section, in the order a full run prints them. A section that measures
 * an issue-17 target records it with `targets.line(label, check)` (figure,
 * target and PASS/MISS on one line); the run ends with all of them.
 */
const SECTIONS: Record<string, (targets: Targets) => void | Promise<void>> = {
  admission: admissionBench,
  redis: redisBench,
  routing: routingBench,
  daemon: daemonBench,
  provider: providerBench,
  adaptive: adaptiveBench,
};

/** `npm run bench [admission|redis|routing|daemon|provider|adaptive ...]`: all sections by default. */
async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    console.error(`Unknown bench section(s): ${unknown.join(', ')}. Sections: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(2);
  }
  console.log(`EXAI Gateway benchmarks — node ${process.version}, ${new Date().toISOString()}`);
  const targets = new Targets();
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (asked.length === 0 || asked.includes(name)) await section(targets);
  }
  targets.summary();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
