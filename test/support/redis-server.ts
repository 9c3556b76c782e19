/** The test Redis lives in the testkit (the demo's cluster mode uses it too). */
export * from '../../lib/testkit/redis-server.js';
