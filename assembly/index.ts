// Module wiring: the proxy-wasm ABI exports from the (patched) SDK, and the filter's root context.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime/assembly";
import { CertAllowlistRoot } from "./filter";

function createRoot(context_id: u32): RootContext {
  return new CertAllowlistRoot(context_id);
}

// Istio passes WasmPlugin.pluginName as the root id and leaves it empty when unset; the patched
// SDK falls back to the "" factory for any other name, so every root id gets this filter.
registerRootContext(createRoot, "cert-allowlist");
registerRootContext(createRoot, "");
