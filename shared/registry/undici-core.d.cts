import type { Agent as UAgent, EnvHttpProxyAgent as UEnvHttpProxyAgent, request as urequest } from 'undici';
/** undici's Agent (lib/dispatcher/agent). */
export declare const Agent: typeof UAgent;
/** undici's EnvHttpProxyAgent (lib/dispatcher/env-http-proxy-agent). */
export declare const EnvHttpProxyAgent: typeof UEnvHttpProxyAgent;
/** undici's request(url, opts), bound to opts.dispatcher or the global dispatcher as undici's index binds it. */
export declare const request: typeof urequest;
