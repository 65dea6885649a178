// Multicast tests run in a network namespace of their own (`unshare -rn`): only a loopback, with
// a route for 224.0.0.0/4 on it, and no way out, so no test datagram can reach a network.
import { spawnSync } from 'node:child_process'

const SETUP = 'ip link set lo up && ip route add 224.0.0.0/4 dev lo'

/** Whether this machine lets us make one (util-linux `unshare`, `ip`, user or root namespaces). */
export const privateNetworkAvailable = spawnSync('unshare', ['-rn', 'sh', '-c', SETUP]).status === 0

/**
 * Runs a shell script in a fresh private network namespace; returns spawnSync's result.
 * @param {string} script @param {number} timeoutMs
 */
export function inPrivateNetwork(script, timeoutMs) {
  return spawnSync('unshare', ['-rn', 'sh', '-c', `${SETUP} && ${script}`], { encoding: 'utf8', timeout: timeoutMs })
}
