// Entry point `keel/axios`. Not built yet: its issue replaces this stub.
export {}
