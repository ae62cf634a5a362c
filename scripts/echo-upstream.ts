// The echo upstream on its own (the Envoy compose setup runs it in a container).
import { parseArgs } from 'node:util';
import { startEchoUpstream } from '../gateway/upstream.js';

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8080' } } });
const { port } = await startEchoUpstream(Number(values.port), values.host);
console.log(`echo upstream on ${values.host}:${port}`);
