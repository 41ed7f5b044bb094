/**
 * The adapters' entry points, from one place: tests and adapter drivers import them from here, so
 * a move of an adapter's source changes this file only.
 */
export { type AxiosAdapterOptions, axiosAdapter } from '../../src/adapters/axios.ts'
export { type CreateFetchOptions, createFetch } from '../../src/adapters/fetch.ts'
export { createGrpcClient, type GrpcClientOptions, unary } from '../../src/adapters/grpc.ts'
export { BalancerDispatcher } from '../../src/adapters/undici.ts'
