import type { SpawnSyncReturns } from 'node:child_process'
export declare const privateNetworkAvailable: boolean
export declare function inPrivateNetwork(script: string, timeoutMs: number): SpawnSyncReturns<string>
export declare const IPV6_VETH: string
export declare const IPV4_VETH: string
