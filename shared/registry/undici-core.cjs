'use strict';
// The parts of undici skiff calls (request, Agent, EnvHttpProxyAgent), loaded without undici's index.js, which
// also evaluates fetch, WebSocket, EventSource, the cache stores and the mock agents on every load. `request`
// is undici's own request API bound to a dispatcher exactly as index.js binds it (makeDispatcher).
const Agent = require('undici/lib/dispatcher/agent');
const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent');
const api = require('undici/lib/api/api-request');
const util = require('undici/lib/core/util');
const { InvalidArgumentError } = require('undici/lib/core/errors');
const { getGlobalDispatcher } = require('undici/lib/global');

function request(url, opts) {
  if (!url || (typeof url !== 'string' && typeof url !== 'object')) throw new InvalidArgumentError('invalid url');
  if (opts != null && typeof opts !== 'object') throw new InvalidArgumentError('invalid opts');
  if (opts && opts.path != null) throw new InvalidArgumentError('opts.path is not supported');
  opts ??= {};
  const u = util.parseURL(url);
  const { agent, dispatcher = getGlobalDispatcher(), ...rest } = opts;
  if (agent) throw new InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
  return api.call(dispatcher, { ...rest, origin: u.origin, path: u.search ? `${u.pathname}${u.search}` : u.pathname, method: opts.method || (opts.body ? 'PUT' : 'GET') });
}

module.exports = { Agent, EnvHttpProxyAgent, request };
