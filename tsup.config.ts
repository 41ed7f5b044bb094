import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    fetch: 'src/adapters/fetch/index.ts',
    undici: 'src/adapters/undici/index.ts',
    axios: 'src/adapters/axios/index.ts',
    grpc: 'src/adapters/grpc/index.ts',
    dns: 'src/discovery/dns.ts',
    http: 'src/adapters/http-agent/index.ts',
    net: 'src/adapters/net/index.ts',
    ioredis: 'src/adapters/net/ioredis.ts',
    prometheus: 'src/addons/prometheus/index.ts',
    otel: 'src/addons/otel/index.ts',
    redis: 'src/addons/redis/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  // Shared code lands in one chunk per format, so `keel` and `keel/undici` share one Balancer class
  // and one breaker rotate controller instead of each bundling a copy.
  splitting: true,
  // No source maps: the build is not minified (names and structure survive), and maps were two
  // thirds of the tarball. Stack traces point at readable dist code.
  sourcemap: false,
  clean: true,
  target: 'node22',
  platform: 'node',
  // p-retry is ESM-only: bundling it lets CommonJS consumers (Jest among them) `require('keel')`.
  noExternal: ['p-retry', 'is-network-error'],
  external: ['undici', 'axios', '@grpc/grpc-js', '@grpc/proto-loader', 'ioredis', 'prom-client', '@opentelemetry/api'],
  treeshake: true,
  removeNodeProtocol: false,
})
