/**
 * The largest sigstore payload read or written (4 MiB, SG-09). A module of its own so that storing or reading
 * signature blobs, which every registry copy may do, does not load the sigstore code and its Ed25519 library.
 */
export const MAX_SIGSTORE_PAYLOAD_BYTES = 4 * 1024 * 1024;
