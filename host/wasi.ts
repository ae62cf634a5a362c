// The WASI functions Envoy registers for a proxy-wasm module (stdout and stderr become log lines,
// the clock is the host's, no files), keyed "wasi.<name>" for both WASI module names.
import { randomFillSync } from 'node:crypto';
import { type LogLevel, WASI } from './abi.js';
import type { HostEnvironment, LogEntry } from './vm.js';

/** What the WASI functions need of the VM: its memory, its log, the environment. */
export interface Guest {
  read(ptr: number, size: number): Buffer | null;
  write(ptr: number, data: Uint8Array): boolean;
  writeU32(ptr: number, value: number): boolean;
  writeU64(ptr: number, value: bigint): boolean;
  log(level: LogLevel, message: string, origin: LogEntry['origin']): void;
  env: HostEnvironment;
}

// biome-ignore lint/suspicious/noExplicitAny: WASI functions take numbers and bigints as WebAssembly passes them
export function wasiFunctions(guest: Guest): Record<string, (...args: any[]) => number | void> {
  const ERRNO = { success: 0, badf: 8, fault: 21, inval: 28, noent: 44, nosys: 52, notsup: 58 };
  // biome-ignore lint/suspicious/noExplicitAny: as hostFunctions
  const functions: Record<string, (...args: any[]) => number | void> = {
    fd_write: (fd: number, iovs: number, iovsLength: number, writtenPtr: number) => {
      if (fd !== 1 && fd !== 2) return ERRNO.badf;
      const chunks: Buffer[] = [];
      for (let i = 0; i < iovsLength >>> 0; i++) {
        const iov = guest.read(iovs + i * 8, 8);
        if (!iov) return ERRNO.fault;
        const chunk = guest.read(iov.readUInt32LE(0), iov.readUInt32LE(4));
        if (!chunk) return ERRNO.fault;
        chunks.push(chunk);
      }
      const data = Buffer.concat(chunks);
      guest.log(fd === 1 ? 'info' : 'error', data.toString('utf8').replace(/\n$/, ''), 'plugin');
      return guest.writeU32(writtenPtr, data.length) ? ERRNO.success : ERRNO.fault;
    },
    fd_read: () => ERRNO.nosys,
    fd_seek: () => {
      guest.log('error', 'wasi fd_seek is not supported', 'envoy');
      return ERRNO.success;
    },
    fd_close: () => {
      guest.log('error', 'wasi fd_close is not supported', 'envoy');
      return ERRNO.success;
    },
    fd_fdstat_get: (fd: number, statPtr: number) => {
      if (fd !== 1 && fd !== 2) return ERRNO.badf;
      const stat = Buffer.alloc(24);
      stat.writeBigUInt64LE(64n, 8);
      return guest.write(statPtr, stat) ? ERRNO.success : ERRNO.fault;
    },
    fd_fdstat_set_flags: () => ERRNO.nosys,
    environ_sizes_get: (countPtr: number, sizePtr: number) => {
      const entries = Object.entries(guest.env.envVars).map(([k, v]) => Buffer.from(`${k}=${v}\0`));
      const size = entries.reduce((sum, e) => sum + e.length, 0);
      return guest.writeU32(countPtr, entries.length) && guest.writeU32(sizePtr, size) ? ERRNO.success : ERRNO.fault;
    },
    environ_get: (pointersPtr: number, bufferPtr: number) => {
      let at = bufferPtr >>> 0;
      let i = 0;
      for (const [k, v] of Object.entries(guest.env.envVars)) {
        const entry = Buffer.from(`${k}=${v}\0`);
        if (!guest.writeU32(pointersPtr + i * 4, at) || !guest.write(at, entry)) return ERRNO.fault;
        at += entry.length;
        i++;
      }
      return ERRNO.success;
    },
    args_sizes_get: (countPtr: number, sizePtr: number) => (guest.writeU32(countPtr, 0) && guest.writeU32(sizePtr, 0) ? ERRNO.success : ERRNO.fault),
    args_get: () => ERRNO.success,
    clock_time_get: (id: number, _precision: bigint, resultPtr: number) => {
      if (id === 0) return guest.writeU64(resultPtr, guest.env.nowNs) ? ERRNO.success : ERRNO.fault;
      if (id === 1) return guest.writeU64(resultPtr, process.hrtime.bigint()) ? ERRNO.success : ERRNO.fault;
      return ERRNO.notsup;
    },
    random_get: (ptr: number, length: number) => {
      if (length >>> 0 > 65536) return ERRNO.inval;
      return guest.write(ptr, randomFillSync(Buffer.alloc(length >>> 0))) ? ERRNO.success : ERRNO.fault;
    },
    // Envoy's proc_exit does not trap: it logs (at trace) and returns to the guest.
    proc_exit: () => {
      guest.log('trace', 'wasi_unstable proc_exit', 'envoy');
    },
    path_open: () => ERRNO.noent,
    fd_prestat_get: () => ERRNO.badf,
    fd_prestat_dir_name: () => ERRNO.nosys,
    sched_yield: () => ERRNO.success,
    poll_oneoff: (_in: number, _out: number, _subscriptions: number, eventsPtr: number) => (guest.writeU32(eventsPtr, 0) ? ERRNO.success : ERRNO.fault),
  };
  for (const name of Object.keys(WASI)) if (!functions[name]) throw new Error(`WASI ${name} has no implementation`);
  return Object.fromEntries(Object.entries(functions).map(([name, fn]) => [`wasi.${name}`, fn]));
}
