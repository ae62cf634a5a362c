// Module wiring: the proxy-wasm ABI exports this filter handles, from the (patched) SDK, and the
// filter's root context. Envoy treats every other callback as absent and continues without calling
// the VM (response headers, bodies, access log, timers, HTTP/gRPC callouts), which keeps both the
// module and each request smaller.
export {
  proxy_abi_version_0_2_0,
  proxy_on_vm_start,
  proxy_on_configure,
  proxy_on_context_create,
  proxy_on_request_headers,
  proxy_on_done,
  proxy_on_delete,
} from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime/assembly";
import { CertAllowlistRoot } from "./filter";
export { malloc } from "./filter";

function createRoot(context_id: u32): RootContext {
  return new CertAllowlistRoot(context_id);
}

// Istio passes WasmPlugin.pluginName as the root id and leaves it empty when unset; the patched
// SDK falls back to the "" factory for any other name, so every root id gets this filter.
registerRootContext(createRoot, "cert-allowlist");
registerRootContext(createRoot, "");
