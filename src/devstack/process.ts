import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';

/** A free TCP port on 127.0.0.1 (the OS picks it; there is a small window before the service binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

/**
 * Starts a long-running JVM service in its own process group with output in `logFile`.
 * A detached child survives this process (for `dev up`); otherwise it is killed when this process exits.
 */
export function startService(cmd: string, args: string[], opts: { cwd: string; logFile: string; detached: boolean; env?: NodeJS.ProcessEnv }): number {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', fd, fd], detached: true, env: opts.env ?? process.env });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const pid = child.pid;
  if (opts.detached) child.unref();
  else process.once('exit', () => killGroup(pid, 'SIGKILL'));
  return pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopService(pid: number, graceMs = 15_000): Promise<void> {
  if (!isAlive(pid)) return;
  killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) killGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true; fails with `what` and the log hint when `timeoutMs` passes or `alive()` turns false. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, opts: { timeoutMs: number; alive: () => boolean; logFile: string }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (!opts.alive()) throw new Error(`${what} exited during start-up; see ${opts.logFile}`);
    if (await probe().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what} not ready after ${opts.timeoutMs} ms; see ${opts.logFile}`);
}
