// A progress bar on stderr, in a module of its own: commands that must start fast (dpia assess in CI) load no Kafka.
import { SingleBar } from 'cli-progress';
import type { Progress } from '../replay.ts';

/** A progress bar with rate and ETA on stderr (a line every 5 s when stderr is not a terminal). */
export function progressBar(quiet = false, unit = 'records'): Progress {
  const bar = new SingleBar({
    stream: process.stderr, noTTYOutput: true, notTTYSchedule: 5000, hideCursor: false, etaBuffer: 50, fps: 5,
    format: `{phase} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
  });
  let started = 0;
  let active = false;
  let value = 0;
  const rate = () => Math.round(value / Math.max(0.001, (performance.now() - started) / 1000));
  // Totals come from offsets, which count transaction markers too: a finished phase shows what it really read.
  const finish = () => {
    if (!active) return;
    bar.setTotal(value);
    bar.update(value, { rate: rate() });
    bar.stop();
    active = false;
  };
  return {
    phase(name, total) {
      if (quiet) return;
      finish();
      if (total <= 0) return; // nothing to read in this phase: no bar
      started = performance.now();
      value = 0;
      bar.start(Math.max(total, 0), 0, { phase: name, rate: 0 });
      active = true;
    },
    advance(n) {
      if (!active || n <= 0) return;
      value += n;
      if (value > bar.getTotal()) bar.setTotal(value);
      bar.update(value, { rate: rate() });
    },
    note(message) {
      finish();
      process.stderr.write(`consentgate replay: ${message}\n`);
    },
    stop: finish,
  };
}
