// Module wiring: the proxy-wasm callbacks this filter handles. Root contexts (one per plugin) are the
// SDK's: created, started and configured through @solo-io/proxy-runtime's own exports. Streams are
// ours: the SDK would make an object and several map entries per request; here a stream is an entry
// in a table from its id to its root. Every other callback is absent, so Envoy does not call the VM
// for it (response headers, bodies, the access log, timers, HTTP/gRPC callouts).
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime/assembly";
import * as sdk from "@solo-io/proxy-runtime/assembly/exports";
import * as abi from "./abi";
import * as collector from "./collector";
import { CertAllowlistRoot, onStreamHeaders, refuseStream } from "./filter";
import { StreamTable } from "./streams";

export { malloc } from "./abi";

export function proxy_abi_version_0_2_0(): void {}

const ROOT_ID_PATH = String.UTF8.encode("plugin_root_id");

// Root contexts (one per plugin sharing this VM: a few at most) and their ids: only those the SDK was
// asked to create, so no SDK lookup can miss.
const rootIds = new Array<u32>();
const roots = new Array<CertAllowlistRoot>();
const streams = new StreamTable();

function createRoot(context_id: u32): RootContext {
  let root = new CertAllowlistRoot(context_id);
  rootIds.push(context_id);
  roots.push(root);
  return root;
}

function rootIndex(context_id: u32): i32 {
  if (context_id == 0) return -1;
  for (let i = 0; i < rootIds.length; i++) if (unchecked(rootIds[i]) == context_id) return i;
  return -1;
}

function rootOf(context_id: u32): CertAllowlistRoot | null {
  let index = rootIndex(context_id);
  return index < 0 ? null : unchecked(roots[index]);
}

export function proxy_on_context_create(context_id: u32, parent_context_id: u32): void {
  if (parent_context_id != 0) {
    streams.add(context_id, parent_context_id);
    return;
  }
  // Istio passes WasmPlugin.pluginName as the root id, and leaves it empty when unset: this filter
  // serves whatever root id it is given, registered under it before the SDK looks it up. Without
  // one the plugin is refused (at vm start), never trapped on.
  abi.beginRequest();
  if (!abi.readProperty(ROOT_ID_PATH)) return;
  registerRootContext(createRoot, String.UTF8.decodeUnsafe(abi.valuePtr, <usize>abi.valueLength));
  sdk.proxy_on_context_create(context_id, 0);
  collector.collect();
}

export function proxy_on_vm_start(context_id: u32, configuration_size: u32): u32 {
  return rootIndex(context_id) >= 0 ? sdk.proxy_on_vm_start(context_id, configuration_size) : 0;
}

export function proxy_on_configure(context_id: u32, configuration_size: u32): u32 {
  if (rootIndex(context_id) < 0) return 0;
  let accepted = sdk.proxy_on_configure(context_id, configuration_size);
  // The parse's garbage, and the previous configuration's policy.
  collector.collect();
  return accepted;
}

export function proxy_on_request_headers(context_id: u32, headers: u32, end_of_stream: u32): u32 {
  let root = rootOf(streams.root(context_id));
  // A stream of no root we created must not pass unfiltered.
  if (root === null) return refuseStream();
  let status = onStreamHeaders(root);
  collector.collectIfDue();
  return status;
}

export function proxy_on_done(context_id: u32): u32 {
  if (streams.root(context_id) != 0 || rootIndex(context_id) < 0) return 1;
  return sdk.proxy_on_done(context_id);
}

export function proxy_on_delete(context_id: u32): void {
  if (streams.remove(context_id)) return;
  let index = rootIndex(context_id);
  if (index < 0) return;
  sdk.proxy_on_delete(context_id);
  rootIds.splice(index, 1);
  roots.splice(index, 1);
  collector.collect();
}
