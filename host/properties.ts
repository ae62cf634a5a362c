// What proxy_get_property answers, as Envoy resolves a property path (see the host contract in
// README "The Envoy-faithful host"): plugin facts and the connection id as leaves, the stream's
// connection, endpoints and request, objects Envoy knows but this host does not model (which fail
// to serialize whole and have no keys), and any other name as filter state the module set.
import { connectionProperty, endpointProperty, notFound, notSerializable, ok, type PropertyAnswer, type PropertyFeatures, u64 } from './connection.js';
import type { ContextState, RootState, StreamState } from './vm.js';

const COMMA = Buffer.from(',');

export function resolveProperty(path: string, state: ContextState | undefined, root: RootState | undefined, features: PropertyFeatures): PropertyAnswer {
  if (path.length === 0) return notSerializable;
  const tokens = path.split('\0');
  if (tokens.length > 1 && tokens[tokens.length - 1] === '') tokens.pop();
  if (tokens.includes('')) return notFound;
  const name = tokens[0];
  const rest = tokens.slice(1);
  const stream = state?.kind === 'stream' ? state : undefined;
  // Plugin and connection-id facts are leaves: nothing below them.
  const leaf = rest.length === 0;
  switch (name) {
    case 'plugin_name':
      return root && leaf ? ok(root.plugin.pluginName) : notFound;
    case 'plugin_root_id':
      return root && leaf ? ok(root.plugin.rootId) : notFound;
    case 'plugin_vm_id':
      return root && leaf ? ok(root.plugin.vmId) : notFound;
    case 'connection_id':
      return stream && leaf ? ok(u64(stream.connection.id ?? 1)) : notFound;
    case 'connection':
    case 'source':
    case 'destination':
    case 'request':
      // Stream facts: none from a root context; a whole object cannot be serialized.
      if (!stream) return notFound;
      if (rest.length === 0) return notSerializable;
      if (name === 'connection') return rest.length === 1 ? connectionProperty(stream.connection, rest[0], features) : notFound;
      if (name === 'request') return requestProperty(stream, rest);
      return rest.length === 1 ? endpointProperty(stream.connection, name, rest[0]) : notFound;
    case 'response':
    case 'upstream':
    case 'metadata':
    case 'filter_state':
    case 'upstream_filter_state':
    case 'xds':
    case 'context':
      // Known to Envoy but not modelled by this host: whole objects fail to serialize, keys are absent.
      return rest.length === 0 ? notSerializable : notFound;
    default: {
      // Any other name is filter state written by proxy_set_property.
      const value = (stream ?? root)?.filterState.get(tokens.join('\0'));
      return value ? ok(value) : notFound;
    }
  }
}

function requestProperty(stream: StreamState, keys: string[]): PropertyAnswer {
  if (keys[0] === 'headers') {
    if (keys.length !== 2) return keys.length === 1 ? notSerializable : notFound;
    // Every value of the header, comma-joined as Envoy joins repeated headers.
    const values = stream.request.getAll(Buffer.from(keys[1], 'utf8'));
    if (values.length === 0) return notFound;
    return ok(values.length === 1 ? Buffer.from(values[0]) : Buffer.concat(values.flatMap((v, i) => (i === 0 ? [v] : [COMMA, v]))));
  }
  if (keys.length !== 1) return notFound;
  const header = (key: string) => {
    const value = stream.request.get(key);
    return value ? ok(value) : notFound;
  };
  const path = stream.request.getString(':path') ?? '';
  const query = path.indexOf('?');
  switch (keys[0]) {
    case 'path':
      return header(':path');
    case 'url_path':
      return ok(query < 0 ? path : path.slice(0, query));
    case 'query':
      return ok(query < 0 ? '' : path.slice(query + 1));
    case 'host':
      return header(':authority');
    case 'scheme':
      return header(':scheme');
    case 'method':
      return header(':method');
    case 'useragent':
      return header('user-agent');
    case 'referer':
      return header('referer');
    case 'id':
      return header('x-request-id');
    case 'protocol':
      return ok('HTTP/1.1');
    default:
      return notFound;
  }
}
