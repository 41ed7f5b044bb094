// Entry point `keel/dns`. Not built yet: its issue replaces this stub.
export {}
