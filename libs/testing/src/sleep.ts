/** The tests' one pause: node's own timer promise (`await sleep(50)`, or `sleep(50, value)` to race with). */
export { setTimeout as sleep } from 'node:timers/promises';
