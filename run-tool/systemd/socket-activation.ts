// Socket activation (sd_listen_fds): a socket unit's service gets its listening sockets as fds 3… with
// LISTEN_FDS, LISTEN_PID (the service's main pid) and LISTEN_FDNAMES. run-tool passes them on to the container,
// where they are again fds 3…, and the container's process is pid 1 in its namespace.

/** The fds handed to this process and the environment the container gets for them. */
export interface SocketActivation {
  fds: number;
  env: string[];
}

/**
 * The socket activation addressed to process `pid` (LISTEN_PID equal to it and LISTEN_FDS ≥ 1), else undefined.
 * The container sees LISTEN_PID=1, LISTEN_FDS and LISTEN_FDNAMES as given. Pure.
 */
export function socketActivationOf(env: NodeJS.ProcessEnv, pid: number): SocketActivation | undefined {
  const n = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID !== String(pid) || !Number.isInteger(n) || n < 1) return undefined;
  return { fds: n, env: [`LISTEN_FDS=${n}`, 'LISTEN_PID=1', ...(env.LISTEN_FDNAMES !== undefined ? [`LISTEN_FDNAMES=${env.LISTEN_FDNAMES}`] : [])] };
}
