import { EnvoyHost, mtls } from '/work/main/host/index.js';
const digest = (i: number) => `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${i.toString(16).padStart(56, '0')}`;
function cfg(n: number, off: number) {
  const bufs: Buffer[] = [Buffer.from('{"allow":[')];
  for (let s = 0; s < n; s += 100000) { const parts: string[] = []; for (let i = s; i < Math.min(n, s + 100000); i++) parts.push(`{"name":"c${i + off}","sha256":"${digest(i + off)}"}`); bufs.push(Buffer.from((s ? ',' : '') + parts.join(','))); }
  bufs.push(Buffer.from(']}')); return Buffer.concat(bufs);
}
const host = await EnvoyHost.load('/work/main/build/cert-allowlist.wasm');
const sizes = process.argv.slice(2).map(Number);
let off = 0;
for (const n of sizes) {
  const c = cfg(n, off); off += 7;
  const t = Date.now();
  const ok = host.configure(c);
  console.log(`configure ${n} (${(c.length/1e6).toFixed(0)} MB): ${ok} in ${Date.now() - t} ms; worker memory ${(host.memoryBytes()/1048576).toFixed(0)} MiB; vmFailed ${host.vmFailed}`);
  const r = host.request({ connection: mtls({ sha256: 'f'.repeat(64), subject: 'CN=x', uriSans: [], dnsSans: [] }) });
  console.log('  stranger ->', r.response.status, r.action);
  for (const e of host.logsAtLeast('error')) console.log('  ERR', e.vm, e.message.slice(0, 160));
  host.clearLogs();
}
