// Container networking shared by run-tool (containers) and build-tool (RUN steps). See types.ts for the contract.
export type { AttachedNetwork, NetworkConfig, NetworkMode, NetworkOptions, NetworkPlan, NetworkState, PortMapping } from './types.ts';
export { attachNetwork, detachNetwork, readAttachment, netnsPathOf } from './attach.ts';
export { allocatePorts, parseExposedPort, parsePublish } from './publish.ts';
export { checkNetworkName, createNetwork, getNetwork, listNetworks, removeNetwork, DEFAULT_NETWORK } from './network-config.ts';
export { pastaHook, resetPastaHook, servePastaHook } from './pasta-hook.ts';
