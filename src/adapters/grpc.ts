// Entry point `keel/grpc`. Not built yet: its issue replaces this stub.
export {}
