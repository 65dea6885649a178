// Multicast tests run in a network namespace of their own (`unshare -rn`): only a loopback, with
// a route for 224.0.0.0/4 on it, and no way out, so no test datagram can reach a network.
import { spawnSync } from 'node:child_process'

const SETUP = 'ip link set lo up && ip route add 224.0.0.0/4 dev lo'

/** Whether this machine lets us make one (util-linux `unshare`, `ip`, user or root namespaces). */
export const privateNetworkAvailable = spawnSync('unshare', ['-rn', 'sh', '-c', SETUP]).status === 0

/**
 * A second IPv4 interface that takes the route to multicast: a veth pair, v0 (10.99.0.1) and v1,
 * with 224.0.0.0/4 on v0. A sender that ignores its `localaddr` sends there, so a receiver joined on
 * the loopback would get nothing: the tests of `localaddr` on the sending side use it.
 */
export const IPV4_VETH = 'ip link add v0 type veth peer name v1 && ip addr add 10.99.0.1/24 dev v0 && ip link set v0 up && ip link set v1 up && ip route replace 224.0.0.0/4 dev v0'

/**
 * For IPv6 multicast, which the loopback does not carry: a veth pair, v0 (fd99::1) and v1
 * (fd99::2), in the namespace. Addresses without duplicate detection, usable at once. A datagram
 * to a group leaves by v0 or v1 (both hold a route to ff00::/8) and reaches a socket joined on v0
 * either way: looped back, or across the pair.
 */
export const IPV6_VETH = 'ip link add v0 type veth peer name v1 && ip -6 addr add fd99::1/64 dev v0 nodad && ip -6 addr add fd99::2/64 dev v1 nodad && ip link set v0 up && ip link set v1 up'

/**
 * Runs a shell script in a fresh private network namespace; returns spawnSync's result.
 * @param {string} script @param {number} timeoutMs
 */
export function inPrivateNetwork(script, timeoutMs) {
  return spawnSync('unshare', ['-rn', 'sh', '-c', `${SETUP} && ${script}`], { encoding: 'utf8', timeout: timeoutMs })
}
