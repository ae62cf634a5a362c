# The filter as an image Istio can pull (the compat form: one layer holding plugin.wasm), for users
# who prefer `docker build`: npm run build && docker build -t registry.example/cert-allowlist:1 .
# `npx cert-allowlist image build|push` makes the OCI artifact form without Docker.
FROM scratch
COPY build/cert-allowlist.wasm ./plugin.wasm
