// Entry point `keel/undici`. Not built yet: its issue replaces this stub.
export {}
