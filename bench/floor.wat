;; The floor: what deciding in connection mode costs in host calls alone, with no SDK and no logic.
;; Per request it reads the client certificate's digest property, :authority and :path, and
;; returns Continue. Memory comes from a bump allocator reset at every request.
;;
;; Configured with a non-empty configuration it is the denying floor instead: after the same three
;; reads it makes the calls a denial cannot do without — the subject and first URI SAN for the log
;; line, two counters (denied, denied by reason), the log line itself and a 403 local reply — and
;; returns StopIteration.
(module
  (import "env" "proxy_get_property" (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response"
    (func $send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 8192))
  (global $denying (mut i32) (i32.const 0))
  (data (i32.const 0) "connection\00sha256_peer_certificate_digest")
  (data (i32.const 64) ":authority")
  (data (i32.const 80) ":path")
  (data (i32.const 96) "connection\00subject_peer_certificate")
  (data (i32.const 160) "connection\00uri_san_peer_certificate")
  (data (i32.const 224) "cert_allowlist.denied")
  (data (i32.const 256) "cert_allowlist.denied.not_allowed")
  (data (i32.const 320) "cert_allowlist_not_allowed")
  (data (i32.const 352) "client certificate not authorized\n")
  ;; One header pair, content-type: text/plain, in the proxy-wasm pairs layout.
  (data (i32.const 400) "\01\00\00\00\0c\00\00\00\0a\00\00\00content-type\00text/plain\00")
  ;; A deny line as long as the filter's for the same request.
  (data (i32.const 512) "cert-allowlist: deny reason=not_allowed rule=\"\" sha256=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff uri_san=\"\" subject=\"CN=client,O=Bench\" host=\"payments.example.com\" path=\"/ledger/x\" mode=enforce")
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "malloc") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8))))
    (local.get $at))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (global.set $denying (i32.gt_u (local.get $size) (i32.const 2)))
    ;; Counter ids go to 1100 and 1104.
    (drop (call $define_metric (i32.const 0) (i32.const 224) (i32.const 21) (i32.const 1100)))
    (drop (call $define_metric (i32.const 0) (i32.const 256) (i32.const 33) (i32.const 1104)))
    (i32.const 1))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $heap (i32.const 8192))
    (drop (call $get_property (i32.const 0) (i32.const 41) (i32.const 1024) (i32.const 1028)))
    (drop (call $get_header (i32.const 0) (i32.const 64) (i32.const 10) (i32.const 1032) (i32.const 1036)))
    (drop (call $get_header (i32.const 0) (i32.const 80) (i32.const 5) (i32.const 1040) (i32.const 1044)))
    (if (i32.eqz (global.get $denying)) (then (return (i32.const 0))))
    (drop (call $get_property (i32.const 96) (i32.const 35) (i32.const 1048) (i32.const 1052)))
    (drop (call $get_property (i32.const 160) (i32.const 35) (i32.const 1056) (i32.const 1060)))
    (drop (call $increment_metric (i32.load (i32.const 1100)) (i64.const 1)))
    (drop (call $increment_metric (i32.load (i32.const 1104)) (i64.const 1)))
    (drop (call $log (i32.const 2) (i32.const 512) (i32.const 216)))
    (drop (call $send_local_response (i32.const 403) (i32.const 320) (i32.const 26) (i32.const 352) (i32.const 34)
      (i32.const 400) (i32.const 36) (i32.const -1)))
    (i32.const 1))
)
