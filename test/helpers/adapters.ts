/**
 * The adapters' entry points, from one place: tests and adapter drivers import them from here, so
 * a move of an adapter's source changes this file only.
 */
export { type AxiosAdapterOptions, axiosAdapter } from '../../src/adapters/axios/index.ts'
export { type CreateFetchOptions, createFetch } from '../../src/adapters/fetch/index.ts'
export { createGrpcClient, type GrpcClientOptions, unary } from '../../src/adapters/grpc/index.ts'
export { BalancerDispatcher } from '../../src/adapters/undici/index.ts'
