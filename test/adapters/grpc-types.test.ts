// The types a gRPC user writes against: an untyped constructor (what `loadPackageDefinition`
// gives) yields a client whose methods take grpc-js's call shapes without casts, as
// docs/grpc.md shows; a typed one keeps its method types. Checked by `tsc` (npm run typecheck).
import type { Client, ServiceClientConstructor, ServiceError } from '@grpc/grpc-js'
import { describe, expectTypeOf, it } from 'vitest'
import type { GrpcClient, UntypedGrpcMethod } from '../../src/adapters/grpc/index.ts'
import { unary } from '../../src/adapters/grpc/index.ts'

interface User {
  id: number
  name: string
}
interface UsersClient extends Client {
  getUser(request: { id: number }, callback: (error: ServiceError | null, user?: User) => void): unknown
}

describe('GrpcClient types', () => {
  it('an untyped constructor gives untyped methods, callable with any call shape', () => {
    expectTypeOf<GrpcClient<Client>['getUser']>().toEqualTypeOf<UntypedGrpcMethod>()
    // A `ServiceClientConstructor` (grpc-js's own type for the same) gives the same.
    type ServiceClient = InstanceType<ServiceClientConstructor>
    expectTypeOf<GrpcClient<ServiceClient>['getUser']>().toEqualTypeOf<UntypedGrpcMethod>()
    const users = {} as GrpcClient<Client>
    // `!` only for this repository's noUncheckedIndexedAccess; under --strict alone none is needed
    // (the snippet check compiles docs/grpc.md's example that way).
    const call = () => users.getUser!({ id: 42 }, (error: ServiceError | null, user: unknown) => [error, user])
    const promised = () => unary(users.getUser!)({ id: 42 })
    expectTypeOf(call).returns.toBeAny()
    expectTypeOf(promised).returns.toExtend<Promise<unknown>>()
  })

  it('a typed constructor keeps its method types and drops Client members', () => {
    const users = {} as GrpcClient<UsersClient>
    expectTypeOf(users.getUser).parameter(0).toEqualTypeOf<{ id: number }>()
    const promised = () => unary(users.getUser)({ id: 42 })
    expectTypeOf(promised).returns.resolves.toEqualTypeOf<User>()
    expectTypeOf<GrpcClient<UsersClient>>().not.toHaveProperty('close')
  })
})
