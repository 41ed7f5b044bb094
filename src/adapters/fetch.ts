// Entry point `keel/fetch`. Not built yet: its issue replaces this stub.
export {}
